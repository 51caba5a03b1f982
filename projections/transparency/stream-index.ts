import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { EventStore } from '../../domain/ports/event-store.ts';
import type { StreamSlot, TransparencyLogStore } from '../../domain/ports/transparency-log.ts';
import { constantTimeEqual } from '../../domain/crypto/index.ts';
import { eventLeafHash } from '../../domain/transparency/leaf.ts';

const BATCH = 1000;
/**
 * Events looked at between two turns of the event loop. The embedded store reads and the leaves are hashed
 * synchronously: without a turn the walk of a large legacy log held the process (its probes, every request) for as
 * long as it ran. Each batch is its own transaction; nothing is held open across a turn.
 */
const EVENTS_PER_TURN = 2000;

/**
 * Migration of a log file written before the stream index (schema 1; issue 10 item 4): each unindexed leaf is
 * matched to the stored event at its position and entered in the index only when that event still hashes to
 * the leaf, so the index is never taken from an edited store. Leaves logged before the index are a prefix of
 * the log; the walk starts at the first of them and stops at the first indexed leaf. A leaf left unindexed (its
 * event was edited or deleted) keeps `credence export` from signing stream heads over it; `credence verify
 * --data` says what happened to it. Returns how many leaves it indexed.
 */
export const indexLegacyLeaves = async (args: {
  readonly store: Pick<EventStore, 'readAll'>;
  readonly log: Pick<TransparencyLogStore, 'firstUnindexedLeaf' | 'leafAt' | 'leafByPosition' | 'lastPosition' | 'indexLeaves'>;
}): Promise<number> => {
  const { store, log } = args;
  const first = log.firstUnindexedLeaf();
  const last = log.lastPosition();
  if (first === undefined || last === undefined) return 0;
  const before = first.leafIndex === 0 ? undefined : log.leafAt(first.leafIndex - 1)?.position;
  let batch: ({ leafIndex: number } & StreamSlot)[] = [];
  let indexed = 0;
  const flush = () => {
    log.indexLeaves(batch);
    indexed += batch.length;
    batch = [];
  };
  let looked = 0;
  for await (const event of store.readAll(before === undefined ? {} : { afterPosition: before })) {
    if (++looked % EVENTS_PER_TURN === 0) await yieldToLoop();
    if (event.position > last) break;
    const leaf = log.leafByPosition(event.position);
    if (leaf === undefined) continue;
    if (leaf.stream !== undefined) break;
    if (leaf.eventId === event.id && constantTimeEqual(leaf.leafHash, eventLeafHash(event))) {
      batch.push({ leafIndex: leaf.leafIndex, streamId: event.streamId, revision: event.revision });
      if (batch.length >= BATCH) flush();
    }
  }
  flush();
  return indexed;
};
