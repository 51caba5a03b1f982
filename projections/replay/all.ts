import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { EventStore, RecordedEvent } from '../../domain/ports/event-store.ts';
import { eachRecord } from '../../domain/ports/each-record.ts';
import { FleetVerifier, type FleetReplay } from './verifier.ts';
import { claimsAreForeign } from './foreign-claims.ts';

export type { FleetReplay, KindSummary } from './verifier.ts';

/** Records a replay reads per store request: bounds memory, and progress is reported per page. */
const PAGE = 5_000;

/**
 * Feeds `verifier` every record after its position, page by page, in global order. Entities are kept in memory in
 * global order, so the cross-entity facts of each event are exactly the other entities as they stood at its
 * position (or, for a decision that claimed its facts first, at its claims). The event loop turns after each of the
 * embedded store's pages (its `pageSize`, 1,000 records by default): a replay of the whole store inside the service
 * leaves its probes and other requests their turns (review 242: a microtask between pages held them all to the end).
 */
export const verifyFrom = async (
  store: EventStore,
  verifier: FleetVerifier,
  options: {
    onProgress?: (done: number) => void;
    onRecord?: (record: RecordedEvent) => void;
    /** The last position to verify (a head fixed beforehand); omitted: whatever the store holds when reached. */
    until?: bigint;
  } = {},
): Promise<FleetVerifier> => {
  const { onProgress, onRecord, until } = options;
  verifier.claimsForeign = claimsAreForeign(store);
  for (;;) {
    let past = false;
    const read = await eachRecord(store, { afterPosition: verifier.position, maxCount: PAGE }, (record) => {
      if (past || (until !== undefined && record.position > until)) {
        past = true;
        return;
      }
      onRecord?.(record);
      verifier.apply(record);
    }, yieldToLoop);
    onProgress?.(verifier.tally.events);
    if (read < PAGE || past) return verifier;
  }
};

/** Replays every entity in one pass over the global log: the fleet verdict from position 0. */
export const replayAll = async (store: EventStore, onProgress?: (done: number) => void): Promise<FleetReplay> =>
  (await verifyFrom(store, new FleetVerifier(), onProgress === undefined ? {} : { onProgress })).verdict();
