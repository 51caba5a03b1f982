import { FACT_CLAIM_TYPE } from '../../domain/fact-claims.ts';

/**
 * The partition of a stream among `count` workers: FNV-1a over the stream id, so that one entity's events always
 * land in the same partition and entities spread evenly whatever their ids look like.
 */
export const partitionOf = (streamId: string, count: number): number => {
  let hash = 0x811c9dc5;
  for (let i = 0; i < streamId.length; i++) {
    hash ^= streamId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % count;
};

/**
 * The stream whose partition a record goes to: its own, or for a fact claim its claimant's (the claimant is judged
 * against it). `data` is the record's data, parsed or as its stored JSON text (a worker reading raw rows routes
 * before it parses anything else); anything unreadable routes by the stream, where the record's decoding reports it.
 */
export const routeStreamOf = (streamId: string, type: string, data: unknown): string => {
  if (type !== FACT_CLAIM_TYPE) return streamId;
  let value = data;
  if (typeof data === 'string') {
    try {
      value = JSON.parse(data);
    } catch {
      return streamId;
    }
  }
  const claimant = typeof value === 'object' && value !== null ? (value as { claimant?: unknown }).claimant : undefined;
  return typeof claimant === 'string' ? claimant : streamId;
};

/** What a partition does with a record (`roleIn`). */
export const JUDGE = 0;
/** A fact claim judged here whose fact stream another partition holds: that partition keeps the stream's order. */
export const JUDGE_NOT_ORDER = 1;
/** A fact claim judged in another partition, on a stream this one holds: only the stream's order is kept here. */
export const ORDER_ONLY = 2;
export type RecordRole = typeof JUDGE | typeof JUDGE_NOT_ORDER | typeof ORDER_ONLY;

/**
 * The role of a record in `partition` of `count`, or undefined when the partition has nothing to do with it. A fact
 * claim goes to its claimant's partition (judged there against its facts) and to its fact stream's (whose revisions it
 * moves, in order with the entity's own events there): so a revision out of order across the two is seen, as one
 * pass over the log sees it.
 */
export const roleIn = (streamId: string, type: string, data: unknown, partition: number, count: number): RecordRole | undefined => {
  const judged = partitionOf(routeStreamOf(streamId, type, data), count) === partition;
  if (type !== FACT_CLAIM_TYPE) return judged ? JUDGE : undefined;
  const ordered = partitionOf(streamId, count) === partition;
  return judged ? (ordered ? JUDGE : JUDGE_NOT_ORDER) : ordered ? ORDER_ONLY : undefined;
};
