import type { Command } from 'commander';
import { z } from 'zod';
import type { EventStore } from '../../domain/ports/event-store.ts';
import { replayAll } from '../../projections/replay/index.ts';
import { json, type Io } from '../io.ts';
import { handler, parseOptions, runCommands, type RegisterCommands } from '../program.ts';
import { progressBar } from '../progress.ts';
import { StoreArg } from './open-store.ts';
import { progressStream, ServerOptions, withJson, withLocalStore, withServer } from './options.ts';
import { readFromSource } from './read-source.ts';

const Options = z.object({
  data: z.string().min(1).optional(),
  store: StoreArg,
  json: z.boolean().default(false),
  ...ServerOptions,
});
type Options = z.infer<typeof Options>;

/** The fleet verdict as the engine or the API gives it (positions as bigints or decimal strings). */
interface FleetReplayView {
  readonly events: number | string;
  readonly kinds: Readonly<Record<string, { entities: number; events: number; states: Readonly<Record<string, number>> }>>;
  readonly foreignEvents: number;
  readonly findings: readonly { streamId: string; position: unknown; revision: unknown; reason: string }[];
  readonly brokenStreams: readonly string[];
  /** From the API, which lists only the first findings and broken streams: how many there are. */
  readonly brokenStreamsTotal?: number;
  readonly findingsTotal?: number;
}

const print = (result: FleetReplayView, io: Io): void => {
  io.out(`replayed ${result.events} events`);
  for (const [kind, s] of Object.entries(result.kinds)) {
    if (s.entities === 0) continue;
    const states = Object.entries(s.states).map(([st, n]) => `${st} ${n}`).join(', ');
    io.out(`  ${kind.padEnd(13)} ${String(s.entities).padStart(7)} entities ${String(s.events).padStart(8)} events   ${states}`);
  }
  if (result.foreignEvents > 0) io.out(`  (${result.foreignEvents} events in non-entity streams not replayed)`);
  if (result.findings.length === 0) io.out('verdict: every stored transition is legal');
  else {
    io.out(`verdict: ${result.brokenStreamsTotal ?? result.brokenStreams.length} broken histories`);
    for (const f of result.findings) io.out(`  ${f.streamId} @ position ${String(f.position)} (revision ${String(f.revision)}): ${f.reason}`);
    const more = (result.findingsTotal ?? result.findings.length) - result.findings.length;
    if (more > 0) io.out(`  … and ${more} more findings (credence replay --json --data DIR lists them all)`);
  }
};

const replayLocal = async (store: EventStore, args: Options, io: Io): Promise<FleetReplayView> => {
  const stream = progressStream(io, args.json);
  // On the embedded store the head position is the number of stored events: the bar's total.
  const progress = stream === undefined ? undefined : progressBar(stream, Number((await store.headPosition()) ?? 0n), 'events replayed');
  const result = await replayAll(store, progress?.update);
  progress?.finish();
  return result;
};

/** `credence replay [--data DIR | --store URL | --server URL] [--json]`: every entity through its machine; exit 1 on any broken history. */
export const register: RegisterCommands = (program, io) => {
  const command: Command = withJson(withServer(withLocalStore(program.command('replay'))))
    .description('replay every entity through its machine with every guard; exit 1 on a broken history')
    .action(
      handler(io, async (opts: Record<string, unknown>) => {
        const args = parseOptions(command, Options, opts);
        const result = await readFromSource<FleetReplayView>(args, io, (store) => replayLocal(store, args, io), (client) => client.replay());
        const ok = (result.findingsTotal ?? result.findings.length) === 0;
        if (args.json) io.out(json({ ok, ...result }));
        else print(result, io);
        return ok ? 0 : 1;
      }),
    );
};

/** The command on its own, as tests and scripts call it: `replay(['--data', dir], io)`. */
export const replay = (argv: string[], io: Io): Promise<number> => runCommands([register], ['replay', ...argv], io);
