import { z } from 'zod';
import { parseStreamId } from '../../domain/streams.ts';
import { stateAt } from '../../projections/audit/index.ts';
import { json, parseCli, type Io } from '../io.ts';
import { openExistingStore, STORE_OPTION, StoreArg } from './open-store.ts';

const Args = z.object({
  store: StoreArg,
  data: z.string().min(1).default('./data'),
  json: z.boolean().default(false),
  at: z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time, e.g. 2026-02-01T00:00:00Z' }).transform((s) => new Date(s)),
  positionals: z
    .array(z.string())
    .length(1, 'state takes exactly one stream, e.g. credential-meter-1-service')
    .refine((p) => parseStreamId(p[0]!) !== undefined, 'stream must be <kind>-<id> with kind node, credential, association, application, subscription or pseudonym'),
});

/**
 * `credence state <stream> --at <ISO time> [--json]`: the entity as it stood at that instant, computed by
 * replaying its events up to then through its machine. Exit 1 when the history up to then is broken.
 */
export const state = async (argv: string[], io: Io): Promise<number> => {
  const args = parseCli(argv, { ...STORE_OPTION, data: { type: 'string' }, json: { type: 'boolean' }, at: { type: 'string' } }, Args, io);
  if (args === undefined) return 2;
  const store = openExistingStore(args.data, io, args.store);
  if (store === undefined) return 2;
  try {
    const result = await stateAt(store, args.positionals[0]!, args.at);
    if (args.json) io.out(json(result));
    else {
      const after = result.asOf === undefined ? 'before its first event' : `after #${result.asOf.revision} ${result.asOf.type} @${result.asOf.position} (${result.asOf.occurredAt ?? '?'})`;
      io.out(`${result.streamId} at ${result.at}: ${result.state}, ${after}`);
      if (!result.verdict.ok) {
        io.out(`verdict: broken history up to ${result.at}`);
        for (const f of result.verdict.findings) io.out(`  @ position ${f.position} (revision ${f.revision}): ${f.reason}`);
      }
    }
    return result.verdict.ok ? 0 : 1;
  } finally {
    await store.close();
  }
};
