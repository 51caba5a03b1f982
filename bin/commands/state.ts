import type { Command } from 'commander';
import { z } from 'zod';
import { systemClock } from '../../adapters/driven/clock/index.ts';
import { entityExists } from '../../domain/entity-exists.ts';
import { notFound } from '../../domain/errors.ts';
import { stateAt } from '../../projections/audit/index.ts';
import { json, type Io } from '../io.ts';
import { printable } from '../printable.ts';
import { handler, parseOptions, runCommands, type RegisterCommands } from '../program.ts';
import { StoreArg } from './open-store.ts';
import { ServerOptions, StreamArg, withJson, withLocalStore, withServer, PathArg } from './options.ts';
import { readFromSource } from './read-source.ts';
import { entityVerdict, followsText } from './replay.ts';

const Options = z.object({
  stream: StreamArg,
  store: StoreArg,
  data: PathArg.optional(),
  json: z.boolean().default(false),
  at: z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time, e.g. 2026-02-01T00:00:00Z' }).optional(),
  ...ServerOptions,
});

type EventRef = { readonly position: unknown; readonly revision: unknown; readonly type: string; readonly occurredAt?: string };
const named = (e: EventRef): string => `#${String(e.revision)} ${e.type} @${String(e.position)}`;

/** The entity at an instant as the engine or the API gives it (positions as bigints or decimal strings). */
interface StateAtView {
  readonly streamId: string;
  readonly at: string;
  readonly state: string;
  readonly asOf?: EventRef;
  /** The last stored event by then, when its machine refused it (asOf is then an earlier one, or none). */
  readonly lastStored?: EventRef;
  /** Facts with a broken history that its accepted events read by then (as `credence history` flags them). */
  readonly brokenFacts?: readonly string[];
  readonly verdict: { readonly ok: true } | { readonly ok: false; readonly findings: readonly { position: unknown; revision: unknown; reason: string; ruleSince?: unknown; followsFrom?: unknown }[] };
  /** The machine's context at the instant (times in epoch ms). */
  readonly context?: Readonly<Record<string, unknown>>;
}

/** States whose entity has ended: a deadline past by then changes nothing more. */
const ENDED = new Set(['expired', 'revoked', 'absent', 'terminated']);

/**
 * The deadlines of the context that had passed at the instant while the state still shows the entity live: the state
 * is as recorded by then, and the scheduler records an expiry (or a rotation's end) when it runs, not at the deadline
 * (review 101: an auditor read a credential live five days past its notAfter, with nothing to tell).
 */
const deadlinesPassed = (view: StateAtView): string[] => {
  if (view.context === undefined || ENDED.has(view.state)) return [];
  const at = Date.parse(view.at);
  return (['notAfter', 'overlapEndsAt'] as const).flatMap((name) => {
    const due = view.context![name];
    if (typeof due !== 'number') return [];
    // A time no Date holds is none to say (review 398; the client refuses it from a server: answers.ts StateAtJson).
    const when = new Date(due);
    return !Number.isNaN(when.getTime()) && due <= at ? [`${name} ${when.toISOString()}`] : [];
  });
};

/**
 * `credence state <stream> [--at <ISO time>] [--json]`: the entity as it stood at that instant (default now), computed by
 * replaying its events up to then through its machine. Exit 1 when the history up to then is broken.
 */
export const register: RegisterCommands = (program, io) => {
  const command: Command = withJson(withServer(withLocalStore(program.command('state'))))
    .description('an entity as it stood at an instant, replayed through its machine; exit 1 on a broken history')
    .argument('<stream>', 'the entity stream, <kind>-<id>, e.g. credential-meter-1-service')
    .option('--at <time>', "the instant, ISO 8601, e.g. 2026-02-01T00:00:00Z (default: now, by the server's clock with --server)")
    .action(
      handler(io, async (stream: string, opts: Record<string, unknown>) => {
        const args = parseOptions(command, Options, { ...opts, stream });
        const result = await readFromSource<StateAtView>(
          args,
          io,
          async (store) => {
            // As the server answers (404, exit 1): a stream with no events at all is no entity, not one absent then; nor
            // is one holding only fact claims on EventStoreDB (review 294: a registration's claim on its bootstrap).
            if (!(await entityExists(store, args.stream.streamId))) throw notFound(args.stream.streamId, args.stream.kind);
            return stateAt(store, args.stream.streamId, args.at === undefined ? systemClock.now() : new Date(args.at));
          },
          // Without --at the server reads its own clock: "now" is the service's, as its scheduler's is.
          (client) => client.stateAt(args.stream.kind, args.stream.id, args.at),
        );
        if (args.json) io.out(json(result));
        else {
          const after = result.asOf === undefined ? `before its first${result.lastStored === undefined ? '' : ' accepted'} event` : `after ${named(result.asOf)} (${result.asOf.occurredAt ?? '?'})`;
          const refused = result.lastStored === undefined ? '' : `; last stored: ${named(result.lastStored)} (refused)`;
          // What the store or the server holds (a finding's reason, ...) reaches the terminal through printable only.
          io.out(printable(`${result.streamId} at ${result.at}: ${result.state}, ${after}${refused}`));
          // As `credence history` flags them on the step, and exits as it does: the fact's stream is the finding.
          for (const fact of result.brokenFacts ?? []) io.err(printable(`note: a fact it read by then: ${fact}`));
          const passed = deadlinesPassed(result);
          if (passed.length > 0) {
            io.err(`note: its ${passed.join(' and ')} had passed by then; the state is as recorded by then, and the scheduler records an expiry or a rotation's end when it runs (its history shows when)`);
          }
          if (!result.verdict.ok) {
            // A finding by a rule newer than its stored event, or following from one, is no broken history, as `credence
            // replay` says (reviews 323, 325).
            const { broken, note } = entityVerdict(result.verdict.findings);
            io.out(printable(`verdict: ${broken ? 'broken history' : 'no broken history'} up to ${result.at}`));
            if (note !== undefined) io.out(`  note: ${note}`);
            for (const f of result.verdict.findings) io.out(printable(`  @ position ${String(f.position)} (revision ${String(f.revision)}): ${f.reason}${followsText(f.followsFrom)}`));
          }
        }
        return result.verdict.ok ? 0 : 1;
      }),
    );
};

export const state = (argv: string[], io: Io): Promise<number> => runCommands([register], ['state', ...argv], io);
