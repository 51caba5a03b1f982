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
