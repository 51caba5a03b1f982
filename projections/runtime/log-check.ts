import type Database from 'better-sqlite3';
import type { EventStore, RecordedEvent } from '../../domain/ports/event-store.ts';
import { readCheckpoint } from './checkpoints.ts';

/** Why a checkpoint does not belong to the store's log. */
export type OtherLog =
  | { readonly name: string; readonly position: bigint; readonly reason: 'past-head'; readonly head: bigint | undefined }
  | { readonly name: string; readonly position: bigint; readonly reason: 'no-event' }
  | { readonly name: string; readonly position: bigint; readonly reason: 'other-event'; readonly stored: string; readonly expected: string };

/**
 * The projections among `names` whose checkpoint names an event this store does not hold: the read model was built
 * from another log. That happens when the event store is restored from a backup older than the read models (the
 * checkpoint is past the head, or the positions written since the restore hold other events), or when a data folder
 * is given another fleet's events. Such a read model would serve revocations and audit rows the log no longer holds,
 * and skip the events that now sit at positions it believes handled.
 *
 * With `recordAt` (both stores) an event at the checkpoint must carry the id the checkpoint recorded, and on a gapless
 * store (the embedded one) there must be one; otherwise, or for a checkpoint written before ids were kept, the
 * checkpoint must not be past the head.
 */
export const checkpointsOfAnotherLog = async (db: Database.Database, store: EventStore, names: readonly string[]): Promise<OtherLog[]> => {
  const found: OtherLog[] = [];
  const head = headOnce(store);
  // Every checkpoint read before the head is: another process's runner on the same file moves them forward
  // meanwhile, and one read after the head would be found past it.
  const checkpoints = names.map((name) => [name, readCheckpoint(db, name)] as const);
  for (const [name, checkpoint] of checkpoints) {
    if (checkpoint === undefined) continue;
    const other = await notInLog(store, name, checkpoint.position, checkpoint.eventId, head);
    if (other !== undefined) found.push(other);
  }
  return found;
};

/** The store's head, read at most once however many checks ask for it. */
const headOnce = (store: EventStore): (() => Promise<bigint | undefined>) => {
  let head: Promise<bigint | undefined> | undefined;
  return () => (head ??= store.headPosition());
};

/**
 * The record at exactly `position`: the store's `recordAt`, or on a store without it the first record after the
 * position before (on the embedded store every position is a row's; EventStoreDB has `recordAt`, because a position
 * one less than an event's is none there).
 */
export const recordAtPosition = async (store: EventStore, position: bigint): Promise<RecordedEvent | undefined> => {
  if (store.recordAt !== undefined) return store.recordAt(position);
  for await (const record of store.readAll({ afterPosition: position - 1n, maxCount: 1 })) return record.position === position ? record : undefined;
  return undefined;
};

/**
 * Why the event `eventId` at `position` (what `name` handled last) is not in the store's log, or undefined when it
 * is. Without the id, or without `recordAt`, only a position past the head is told.
 */
export const notInLog = async (
  store: EventStore,
  name: string,
  position: bigint,
  eventId: string | undefined,
  head: () => Promise<bigint | undefined> = headOnce(store),
): Promise<OtherLog | undefined> => {
  if (eventId !== undefined && store.recordAt !== undefined) {
    const stored = await store.recordAt(position);
    if (stored !== undefined) return stored.id === eventId ? undefined : { name, position, reason: 'other-event', stored: stored.id, expected: eventId };
    // No record there: another log's position on a gapless store; on one whose records may be scavenged (a foreign
    // event the checkpoint sat on), only a position past the head tells.
    if (store.gapless === true) return { name, position, reason: 'no-event' };
  }
  const at = await head();
  return at === undefined || position > at ? { name, position, reason: 'past-head', head: at } : undefined;
};

/** One line for a log or an error: what was found, without any read-model content. */
export const describeOtherLog = (o: OtherLog): string => {
  switch (o.reason) {
    case 'past-head':
      return `${o.name}: position ${o.position}, which it handled last, is past the store's head (${o.head ?? 'empty store'})`;
    case 'no-event':
      return `${o.name}: the store holds no event at position ${o.position}, which it handled last`;
    case 'other-event':
      return `${o.name}: the event at position ${o.position}, which it handled last, is ${o.stored} in the store, not ${o.expected}`;
  }
};
