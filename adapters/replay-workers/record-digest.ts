import { hash } from 'node:crypto';
import type { RecordDigest } from '../../projections/replay/checkpoint.ts';
import { recordBytes } from '../../projections/replay/checkpoint.ts';
import type { RecordedEvent } from '../../domain/ports/event-store.ts';

const ZERO = '0'.repeat(64);

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
