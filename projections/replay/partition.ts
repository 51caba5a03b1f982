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
