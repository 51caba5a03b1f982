import { openEventStoreDbStore } from '../../adapters/driven/store/eventstoredb/index.ts';
import { FACT_CLAIM_TYPE } from '../../domain/fact-claims.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import type { StandIn } from '../esdb-standin/index.ts';
import type { standInTeardown } from './stand-in-teardown.ts';

/** What another writer of the cluster does to the stream once the first page of a read was read. */
export type Truncation = (log: StandIn['log'], streamId: string) => void;

/**
 * A stand-in whose node-meter-1 holds `records` fact claims (records every reader passes over), the store on it, and
 * `truncating`: that store, but for `truncation` done by another writer right after the stream's first page (a read
 * from revision 0) was read; `pages` lists the revisions of each page read.
 */
export const streamTruncatedAfterItsFirstPage = async (
  { startStandIn, hold }: ReturnType<typeof standInTeardown>,
  records: number,
  truncation: Truncation,
) => {
  const standIn = await startStandIn();
  const store = hold(openEventStoreDbStore(standIn.connectionString));
  const streamId = 'node-meter-1';
  const claims = Array.from({ length: records }, (_, i) => ({
    id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    type: FACT_CLAIM_TYPE,
    contentType: 'application/json',
    data: Buffer.from(JSON.stringify({ claimant: 'credential-cred-1', commandId: `cmd-${i}` })),
    customMetadata: Buffer.from('{}'),
  }));
  standIn.log.append(streamId, { kind: 'any' }, claims);
  const pages: bigint[][] = [];
  const truncating: EventStore = new Proxy(store, {
    get(target, name) {
      if (name === 'readStream') {
        return async (...args: Parameters<EventStore['readStream']>) => {
          const page = await target.readStream(...args);
          pages.push(page.map((r) => r.revision));
          if (args[0] === streamId && (args[1]?.fromRevision ?? 0n) === 0n) truncation(standIn.log, streamId);
          return page;
        };
      }
      const value: unknown = Reflect.get(target, name, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { store, truncating, streamId, pages };
};
