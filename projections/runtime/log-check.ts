import type Database from 'better-sqlite3';
import { constantTimeEqual } from '../../domain/crypto/index.ts';
import type { EventStore, RecordedEvent } from '../../domain/ports/event-store.ts';
import { eventLeafHash } from '../../domain/transparency/leaf.ts';
import { isOwnStream } from '../../domain/own-record.ts';
import { checkpointOf } from './batch.ts';
import { readCheckpoint } from './checkpoints.ts';

/** Why a checkpoint does not belong to the store's log. */
export type OtherLog =
  | { readonly name: string; readonly position: bigint; readonly reason: 'past-head'; readonly head: bigint | undefined }
  | { readonly name: string; readonly position: bigint; readonly reason: 'no-event' }
  | { readonly name: string; readonly position: bigint; readonly reason: 'other-event'; readonly stored: string; readonly expected: string }
  | { readonly name: string; readonly position: bigint; readonly reason: 'other-content'; readonly eventId: string };

/**
 * What a projection keeps of the event it handled last: its id, and what it keeps of its content. Ids are derived
 * from command ids (domain/event-ids.ts), so an event store restored from an older backup comes to hold the same ids
 * at the same positions again once the lost commands are resent or the cascade re-derives its reactions, decided at
 * a later instant: only the content tells those from the events handled.
 */
export interface HandledEvent {
  readonly id: string;
  /** Its leaf hash (eventLeafHash, its whole envelope), as the transparency log keeps it for every leaf. */
  readonly leafHash?: Uint8Array;
  /** Its `occurredAt`, the instant it was decided, as a read model's checkpoint keeps it. */
  readonly occurredAt?: string;
  /** Its stream, as the transparency log keeps it for every leaf and a read model's checkpoint since it keeps one. */
  readonly streamId?: string;
}

/**
 * The form of every id Credence gives an event: derived from its command id, a version 8 UUID (domain/event-ids.ts;
 * so since the first version). Another application's ids are its client's, random (version 4) or time-ordered
 * (version 7) UUIDs as a rule; its metadata keys are its own, and may well include an `occurredAt`.
 */
const DERIVED_EVENT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/**
 * Whether what was handled is another application's record (a cluster shared with it): its stream says so, or,
 * where a checkpoint written before streams were kept holds none, an id not of Credence's derived form, or no
 * `occurredAt` (no Credence event lacks one; Credence's fact claims do, and only their stream tells them). Checkpoints
 * of versions between dd88db5f and d9e757d7 could sit on such a record (review 179), whose metadata may carry an
 * `occurredAt` of its own (review 280 #2).
 */
const foreign = (handled: HandledEvent): boolean =>
  handled.streamId !== undefined ? !isOwnStream(handled.streamId) : handled.occurredAt === '' || !DERIVED_EVENT_ID.test(handled.id);

const sameContent = (stored: RecordedEvent, handled: HandledEvent): boolean =>
  (handled.leafHash === undefined || constantTimeEqual(eventLeafHash(stored), handled.leafHash)) &&
  (handled.occurredAt === undefined || checkpointOf(stored).occurredAt === handled.occurredAt);

/**
 * The projections among `names` whose checkpoint names an event this store does not hold: the read model was built
 * from another log. That happens when the event store is restored from a backup older than the read models (the
 * checkpoint is past the head, or the positions written since the restore hold other events), or when a data folder
 * is given another fleet's events. Such a read model would serve revocations and audit rows the log no longer holds,
 * and skip the events that now sit at positions it believes handled.
 *
 * With `recordAt` (both stores) an event at the checkpoint must carry the id and the `occurredAt` the checkpoint
 * recorded, and there must be one unless it was another application's record (scavenged away on a cluster shared with
 * it); for a checkpoint written before ids were kept, the checkpoint must not be past the head.
 */
export const checkpointsOfAnotherLog = async (db: Database.Database, store: EventStore, names: readonly string[]): Promise<OtherLog[]> => {
  const found: OtherLog[] = [];
  const head = headOnce(store);
  // Every checkpoint read before the head is: another process's runner on the same file moves them forward
  // meanwhile, and one read after the head would be found past it.
  const checkpoints = names.map((name) => [name, readCheckpoint(db, name)] as const);
  for (const [name, checkpoint] of checkpoints) {
    if (checkpoint === undefined) continue;
    const { eventId, occurredAt, streamId } = checkpoint;
    const handled = eventId === undefined ? undefined : { id: eventId, occurredAt, ...(streamId === undefined ? {} : { streamId }) };
    const other = await notInLog(store, name, checkpoint.position, handled, head);
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
 * Why the event `handled` at `position` (what `name` handled last) is not in the store's log, or undefined when it
 * is: the store holds there an event of its id and of its content, as far as `handled` keeps it. One record read.
 * Without the event, or without `recordAt`, only a position past the head is told; a missing record of another
 * application's, nothing.
 */
export const notInLog = async (
  store: EventStore,
  name: string,
  position: bigint,
  handled: HandledEvent | undefined,
  head: () => Promise<bigint | undefined> = headOnce(store),
): Promise<OtherLog | undefined> => {
  if (handled !== undefined && store.recordAt !== undefined) {
    const stored = await store.recordAt(position);
    if (stored !== undefined && stored.id !== handled.id) return { name, position, reason: 'other-event', stored: stored.id, expected: handled.id };
    if (stored !== undefined) return sameContent(stored, handled) ? undefined : { name, position, reason: 'other-content', eventId: stored.id };
    // No record there: another log's position on a gapless store (the embedded one).
    if (store.gapless === true) return { name, position, reason: 'no-event' };
    // Another application's record, gone: its stream deleted and scavenged, past the head when it was the newest of
    // $all. That tells nothing of the log (review 179); the check of Credence's own records does.
    if (foreign(handled)) return undefined;
  }
  const at = await head();
  if (at === undefined || position > at) return { name, position, reason: 'past-head', head: at };
  // Below the head, no record of Credence's where one was handled (Credence never deletes or trims its own streams):
  // another log's position, inside one of its records (a folder started on another fleet's cluster: review 278).
  return handled !== undefined && store.recordAt !== undefined ? { name, position, reason: 'no-event' } : undefined;
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
    case 'other-content':
      return `${o.name}: the event at position ${o.position}, which it handled last, is ${o.eventId} in the store with other content, written again since`;
  }
};
