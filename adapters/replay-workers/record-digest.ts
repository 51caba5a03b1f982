import { hash } from 'node:crypto';
import type { RecordDigest } from '../../projections/replay/checkpoint.ts';
import { recordBytes } from '../../projections/replay/checkpoint.ts';
import type { EventStore, RecordedEvent } from '../../domain/ports/event-store.ts';
import { isOwnStream } from '../../domain/own-record.ts';

const ZERO = '0'.repeat(64);

/**
 * What the chained digest of a checkpoint kept by this version covers (its `digestVersion`, beside it in the file):
 * 2, on a store that is not gapless, Credence's own records alone (review 371). An EventStoreDB cluster shared with
 * other applications holds theirs in $all too, and they leave it when their stream is deleted and scavenged: digested,
 * every run after a scavenge called the history altered. On the embedded store (gapless) it is every record, as in 1.
 */
export const CHECKPOINT_DIGEST_VERSION = 2;

/**
 * Which records the checkpoint's digest and tip cover on `store`: every one on a gapless store, where a record is never
 * removed (another tool's event written into events.db is part of the history verified); elsewhere Credence's own,
 * which it never removes, as read-model checkpoints and the transparency audit hold them (domain/own-record.ts).
 */
export const digestCovers = (store: Pick<EventStore, 'gapless'>): ((record: Pick<RecordedEvent, 'streamId'>) => boolean) =>
  store.gapless === true ? () => true : (record) => isOwnStream(record.streamId);

/** The digest of one record alone (a checkpoint's `lastRecord`). */
export const digestOfRecord = (record: RecordedEvent): string => hash('sha256', recordBytes(record), 'hex');

/**
 * The replay checkpoint's chained SHA-256 (projections/replay/checkpoint.ts): d(n) = SHA-256(d(n-1) || record n),
 * from `seed` (all zeroes for an empty log). Native one-shot hashing: it runs twice per verified record, and a
 * `createHash` object per call cost several times the hash itself.
 */
export const sha256RecordDigest = (seed: string = ZERO): RecordDigest & { last(): string | undefined; add(recordDigest: string): void } => {
  let value = seed;
  let last: string | undefined;
  const add = (recordDigest: string): void => {
    last = recordDigest;
    value = hash('sha256', Buffer.from(value + last, 'hex'), 'hex');
  };
  return {
    update: (record) => add(digestOfRecord(record)),
    /** The next record by its own digest (digestOfRecord), computed where the record was read (a replay worker). */
    add,
    value: () => value,
    last: () => last,
  };
};
