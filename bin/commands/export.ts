import { writeFileSync } from 'node:fs';
import { z } from 'zod';
import { systemClock } from '../../adapters/driven/clock/index.ts';
import { DEFAULT_LOG_ORIGIN, openTransparencyInDir, signerVerifierKey } from '../../adapters/driven/transparency/index.ts';
import { isValidKeyName } from '../../domain/transparency/index.ts';
import { collectEvidence, TransparencyProjection } from '../../projections/transparency/index.ts';
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
 * `credence export <stream> --out file.json [--data DIR] [--store URL]` (issue 4 item 6): the entity's events with
 * their inclusion proofs against a signed checkpoint. The log is first brought up to the store's head and, when
 * its latest checkpoint does not cover everything, a checkpoint is signed on demand.
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
    await projection.catchUp();
    if ((log.latestCheckpoint()?.treeSize ?? -1) < log.size()) await projection.checkpoint();
    const bundle = collectEvidence({ streamId, streamEvents, log, logPublicKey: signerVerifierKey(signer) });
    writeFileSync(args.out, `${JSON.stringify(bundle, null, 2)}\n`);
    io.out(`wrote ${args.out}: ${bundle.entries.length} events of ${streamId}, proved against the checkpoint of tree size ${log.latestCheckpoint()?.treeSize}`);
    return 0;
  } finally {
    log.close();
    await store.close();
  }
};
