import { z } from 'zod';
import { parseStreamId } from '../../domain/streams.ts';
import { replayEntity } from '../../projections/replay/index.ts';
import { json, parseCli, type Io } from '../io.ts';
import { openExistingStore, STORE_OPTION, StoreArg } from './open-store.ts';

const Args = z.object({
  data: z.string().min(1).default('./data'),
  store: StoreArg,
  json: z.boolean().default(false),
  positionals: z
    .array(z.string())
    .length(1, 'history takes exactly one stream, e.g. credential-meter-1-service')
    .refine((p) => parseStreamId(p[0]!) !== undefined, 'stream must be <kind>-<id> with kind node, credential, association, application or subscription'),
});

/** `credence history <stream> [--data DIR | --store URL] [--json]`: one entity's timeline, each event with its actor and the state after it. */
export const history = async (argv: string[], io: Io): Promise<number> => {
  const args = parseCli(argv, { data: { type: 'string' }, json: { type: 'boolean' }, ...STORE_OPTION }, Args, io);
  if (args === undefined) return 2;
  const store = openExistingStore(args.data, io, args.store);
  if (store === undefined) return 2;
  try {
    const streamId = args.positionals[0]!;
    const result = await replayEntity(store, streamId);
    if (result.steps.length === 0) {
      io.err(`error: ${streamId} has no events`);
      return 1;
    }
    if (args.json) io.out(json(result));
    else {
      io.out(`${streamId}: ${result.state}`);
      for (const s of result.steps) {
        const mark = s.accepted ? ' ' : '!';
        io.out(`${mark} #${s.revision} @${s.position} ${s.occurredAt ?? '?'} ${s.type.padEnd(30)} -> ${s.state.padEnd(12)} by ${s.actor ?? '?'}${s.reason ? `  (${s.reason})` : ''}`);
      }
    }
    return result.verdict.ok ? 0 : 1;
  } finally {
    await store.close();
  }
};
