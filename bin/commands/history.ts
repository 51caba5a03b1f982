import type { Command } from 'commander';
import { z } from 'zod';
import { notFound } from '../../domain/errors.ts';
import { replayEntity } from '../../projections/replay/index.ts';
import { json, type Io } from '../io.ts';
import { printable } from '../printable.ts';
import { handler, parseOptions, runCommands, type RegisterCommands } from '../program.ts';
import { StoreArg } from './open-store.ts';
import { ServerOptions, StreamArg, withJson, withLocalStore, withServer, PathArg } from './options.ts';
import { readFromSource } from './read-source.ts';
import { entityVerdict } from './replay.ts';

const Options = z.object({
  stream: StreamArg,
  data: PathArg.optional(),
  store: StoreArg,
  json: z.boolean().default(false),
  ...ServerOptions,
});

/** One entity's replay as the engine or the API gives it (positions as bigints or decimal strings). */
interface TimelineView {
  readonly state: string;
  readonly steps: readonly { accepted: boolean; revision: unknown; position: unknown; occurredAt?: string; type: string; state: string; actor?: string; reason?: string; brokenFacts?: readonly string[]; data?: Readonly<Record<string, string>>; raisedFrom?: string }[];
  readonly verdict: { readonly ok: true } | { readonly ok: false; readonly findings: readonly { position: unknown; reason: string; ruleSince?: unknown; followsFrom?: unknown }[] };
}

/** What an event said (its reason, successor, ...), and a raise as a raise: two revocations read alike otherwise. */
const said = (s: TimelineView['steps'][number]): string => {
  const fields = Object.entries(s.data ?? {}).map(([name, value]) => `${name}: ${value}`);
  if (s.raisedFrom !== undefined) fields.push(`raised from ${s.raisedFrom}`);
  return fields.length > 0 ? `  [${fields.join(', ')}]` : '';
};

/** `credence history <stream> [--data DIR | --store URL | --server URL] [--json]`: one entity's timeline, each event with its actor and the state after it. */
export const register: RegisterCommands = (program, io) => {
  const command: Command = withJson(withServer(withLocalStore(program.command('history'))))
    .description("one entity's timeline: each event, who did it and the state after it; exit 1 if it holds an illegal event")
    .argument('<stream>', 'the entity stream, <kind>-<id>, e.g. credential-meter-1-service')
    .action(
      handler(io, async (stream: string, opts: Record<string, unknown>) => {
        const args = parseOptions(command, Options, { ...opts, stream });
        const result = await readFromSource<TimelineView>(
          args,
          io,
          // As the server answers (404, exit 1): a stream with no events at all is no entity.
          async (store) => {
            const replayed = await replayEntity(store, args.stream.streamId);
            if (replayed.steps.length === 0) throw notFound(args.stream.streamId, args.stream.kind);
            return replayed;
          },
          // The same replay, run by the server: GET /v1/replay/{kind}/{id} (404, exit 1, for a stream with no events).
          (client) => client.replayEntity(args.stream.kind, args.stream.id),
        );
        if (result.steps.length === 0) {
          io.err(`error: ${args.stream.streamId} has no events`);
          return 1;
        }
        if (args.json) io.out(json(result));
        else {
          // What the store or the server holds (actor, reason, ...) reaches the terminal through printable only.
          io.out(printable(`${args.stream.streamId}: ${result.state}`));
          for (const s of result.steps) {
            const mark = s.accepted ? ' ' : '!';
            io.out(printable(`${mark} #${String(s.revision)} @${String(s.position)} ${s.occurredAt ?? '?'} ${s.type.padEnd(30)} -> ${s.state.padEnd(12)} by ${s.actor ?? '?'}${said(s)}${s.reason ? `  (${s.reason})` : ''}${s.brokenFacts ? `  (a fact it read: ${s.brokenFacts.join('; ')})` : ''}`));
          }
          // Its refused steps ("!") are a broken history unless each is by a rule newer than its stored event, or follows
          // from one (reviews 323, 325).
          const verdict = result.verdict.ok ? undefined : entityVerdict(result.verdict.findings);
          // Said whenever a step is refused, as `state --at` says it (review 339: findings that all followed another
          // entity's finding by a newer rule printed no verdict, and read as a broken history).
          if (verdict !== undefined) io.out(`verdict: ${verdict.broken ? 'broken history' : 'no broken history'}${verdict.note !== undefined ? `; ${verdict.note}` : ''}`);
        }
        return result.verdict.ok ? 0 : 1;
      }),
    );
};

/** The command on its own: `history([stream, '--data', dir], io)`. */
export const history = (argv: string[], io: Io): Promise<number> => runCommands([register], ['history', ...argv], io);
