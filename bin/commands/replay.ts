import { z } from 'zod';
import { replayAll } from '../../projections/replay/index.ts';
import { json, parseCli, type Io } from '../io.ts';
import { progressBar } from '../progress.ts';
import { openExistingStore, STORE_OPTION, StoreArg } from './open-store.ts';

const Args = z.object({
  data: z.string().min(1).default('./data'),
  store: StoreArg,
  json: z.boolean().default(false),
  positionals: z.array(z.string()).max(0, 'replay takes no positional arguments'),
});

/** `credence replay [--data DIR | --store URL] [--json]`: every entity through its machine; exit 1 on any broken history. */
export const replay = async (argv: string[], io: Io): Promise<number> => {
  const args = parseCli(argv, { data: { type: 'string' }, json: { type: 'boolean' }, ...STORE_OPTION }, Args, io);
  if (args === undefined) return 2;
  const store = openExistingStore(args.data, io, args.store);
  if (store === undefined) return 2;
  try {
    // On the embedded store the head position is the number of stored events: the bar's total.
    const progress =
      !args.json && process.stderr.isTTY ? progressBar(process.stderr, Number((await store.headPosition()) ?? 0n), 'events replayed') : undefined;
    const result = await replayAll(store, progress?.update);
    progress?.finish();
    if (args.json) {
      io.out(json({ ok: result.findings.length === 0, ...result }));
    } else {
      io.out(`replayed ${result.events} events`);
      for (const [kind, s] of Object.entries(result.kinds)) {
        if (s.entities === 0) continue;
        const states = Object.entries(s.states).map(([st, n]) => `${st} ${n}`).join(', ');
        io.out(`  ${kind.padEnd(13)} ${String(s.entities).padStart(7)} entities ${String(s.events).padStart(8)} events   ${states}`);
      }
      if (result.foreignEvents > 0) io.out(`  (${result.foreignEvents} events in non-entity streams not replayed)`);
      if (result.findings.length === 0) io.out('verdict: every stored transition is legal');
      else {
        io.out(`verdict: ${result.brokenStreams.length} broken histories`);
        for (const f of result.findings) io.out(`  ${f.streamId} @ position ${f.position} (revision ${f.revision}): ${f.reason}`);
      }
    }
    return result.findings.length === 0 ? 0 : 1;
  } finally {
    await store.close();
  }
};
