import { writeFileSync } from 'node:fs';
import { z } from 'zod';
import { systemClock } from '../../adapters/driven/clock/index.ts';
import { DEFAULT_LOG_ORIGIN, openTransparencyInDir } from '../../adapters/driven/transparency/index.ts';
import { isValidKeyName } from '../../domain/transparency/index.ts';
import { exportEvidence, TransparencyProjection } from '../../projections/transparency/index.ts';
import { parseCli, type Io } from '../io.ts';
import { openExistingStore, STORE_OPTION, StoreArg } from './open-store.ts';

const Args = z.object({
  data: z.string().min(1).default('./data'),
  store: StoreArg,
  out: z.string().min(1, '--out FILE is required'),
  origin: z.string().refine(isValidKeyName, 'origin must be non-empty without spaces or "+"').default(DEFAULT_LOG_ORIGIN),
  positionals: z.array(z.string().min(1)).length(1, 'export takes exactly one stream, e.g. credential-meter-1-service'),
});

/**
 * `credence export <stream> --out file.json [--data DIR] [--store URL]` (issue 4 item 6, issue 10 item 4): the
 * entity's events with their inclusion proofs against a signed checkpoint and the log's signed stream head (the
 * stream had exactly these events there). The log is first brought up to the store's head and, when its latest
 * checkpoint does not cover everything, a checkpoint is signed on demand: the bundle is the whole stream.
 */
export const run = async (argv: string[], io: Io): Promise<number> => {
  const args = parseCli(argv, { data: { type: 'string' }, out: { type: 'string' }, origin: { type: 'string' }, ...STORE_OPTION }, Args, io);
  if (args === undefined) return 2;
  const store = openExistingStore(args.data, io, args.store);
  if (store === undefined) return 2;
  const { log, signer, origin } = openTransparencyInDir(args.data, { origin: args.origin });
  try {
    const streamId = args.positionals[0]!;
    const streamEvents = await store.readStream(streamId);
    if (streamEvents.length === 0) {
      io.err(`error: ${streamId} has no events`);
      return 1;
    }
    const projection = new TransparencyProjection({ store, log, signer, origin, now: () => systemClock.now(), checkpointEveryMs: 0 });
    const { bundle, treeSize, storedAfter } = await exportEvidence({ streamId, store, projection, log, signer });
    writeFileSync(args.out, `${JSON.stringify(bundle, null, 2)}\n`);
    io.out(`wrote ${args.out}: all ${bundle.entries.length} events of ${streamId} as of the signed checkpoint of tree size ${treeSize}`);
    if (storedAfter > 0) io.err(`note: ${storedAfter} events of ${streamId} were appended during the export, after that checkpoint; export again to include them`);
    return 0;
  } finally {
    log.close();
    await store.close();
  }
};
