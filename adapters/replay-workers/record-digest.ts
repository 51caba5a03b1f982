import { createHash } from 'node:crypto';
import type { RecordDigest } from '../../projections/replay/checkpoint.ts';
import { recordBytes } from '../../projections/replay/checkpoint.ts';
import type { RecordedEvent } from '../../domain/ports/event-store.ts';

const ZERO = '0'.repeat(64);

/** The digest of one record alone (a checkpoint's `lastRecord`). */
export const digestOfRecord = (record: RecordedEvent): string => createHash('sha256').update(recordBytes(record)).digest('hex');

/**
 * The replay checkpoint's chained SHA-256 (projections/replay/checkpoint.ts): d(n) = SHA-256(d(n-1) || record n),
 * from `seed` (all zeroes for an empty log). Native hashing: it runs once per verified record.
 */
export const sha256RecordDigest = (seed: string = ZERO): RecordDigest & { last(): string | undefined } => {
  let value = seed;
  let last: string | undefined;
  return {
    update(record) {
      const bytes = recordBytes(record);
      last = createHash('sha256').update(bytes).digest('hex');
      value = createHash('sha256').update(value, 'hex').update(last, 'hex').digest('hex');
    },
    value: () => value,
    last: () => last,
  };
};
