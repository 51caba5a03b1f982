import { emptyRootHash, hashChildren } from './hashing.ts';

/**
 * Proof generation over a store of perfect-subtree hashes (RFC 9162 section 2.1). The node at (level, index)
 * is the hash of the 2^level leaves starting at index * 2^level; it exists once all of them are appended, and
 * never changes afterwards. Every hash a proof needs is either such a node or the hash of a right-edge range,
 * folded from at most log2(n) of them, so a proof costs O(log n) node reads.
 */
export interface HashSource {
  /** Hash of the complete subtree (level, index); level 0 is the leaf hashes. Throws when it is not stored. */
  nodeHash(level: number, index: number): Uint8Array;
}

const assertSize = (value: number, name: string): void => {
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name}: expected a non-negative safe integer`);
};

/** Largest power of two strictly smaller than n (n >= 2): the split point k of RFC 9162 section 2.1.1. */
const splitPoint = (n: number): number => {
  if (n < 2) throw new Error('n: splitPoint needs n >= 2');
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
};

const isPowerOfTwo = (n: number): boolean => n > 0 && 2 ** Math.round(Math.log2(n)) === n;

/**
 * MTH(D[start:end]) for a range that is a node of some tree (start aligned to a power of two >= its length).
 * The perfect part is read; only the right edge is recomputed.
 */
const rangeHash = (source: HashSource, start: number, end: number): Uint8Array => {
  const width = end - start;
  if (width <= 0) throw new Error(`range: empty range [${start}, ${end})`);
  if (isPowerOfTwo(width) && start % width === 0) return source.nodeHash(Math.log2(width), start / width);
  const k = splitPoint(width);
  return hashChildren(rangeHash(source, start, start + k), rangeHash(source, start + k, end));
};

export const rootHash = (source: HashSource, size: number): Uint8Array => {
  assertSize(size, 'size');
  return size === 0 ? emptyRootHash() : rangeHash(source, 0, size);
};

/** PATH(m, D[start:end]) of RFC 9162 section 2.1.3.1, the deepest sibling first. */
const path = (source: HashSource, m: number, start: number, end: number, out: Uint8Array[]): void => {
  if (end - start <= 1) return;
  const k = splitPoint(end - start);
  if (m < k) {
    path(source, m, start, start + k, out);
    out.push(rangeHash(source, start + k, end));
  } else {
    path(source, m - k, start + k, end, out);
    out.push(rangeHash(source, start, start + k));
  }
};

/** Inclusion proof of leaf `index` in the tree of the first `size` leaves. */
export const inclusionProof = (source: HashSource, index: number, size: number): Uint8Array[] => {
  assertSize(index, 'index');
  assertSize(size, 'size');
  if (index >= size) throw new Error(`index: ${index} is not below tree size ${size}`);
  const out: Uint8Array[] = [];
  path(source, index, 0, size, out);
  return out;
};

/** SUBPROOF(m, D[start:end], b) of RFC 9162 section 2.1.4.1. */
const subproof = (
  source: HashSource,
  m: number,
  start: number,
  end: number,
  haveRoot: boolean,
  out: Uint8Array[],
): void => {
  const n = end - start;
  if (m === n) {
    if (!haveRoot) out.push(rangeHash(source, start, end));
    return;
  }
  const k = splitPoint(n);
  if (m <= k) {
    subproof(source, m, start, start + k, haveRoot, out);
    out.push(rangeHash(source, start + k, end));
  } else {
    subproof(source, m - k, start + k, end, false, out);
    out.push(rangeHash(source, start, start + k));
  }
};

/** Consistency proof from the tree of size `first` to the tree of size `second` (first <= second). */
export const consistencyProof = (source: HashSource, first: number, second: number): Uint8Array[] => {
  assertSize(first, 'first');
  assertSize(second, 'second');
  if (first > second) throw new Error(`first: ${first} is larger than second ${second}`);
  const out: Uint8Array[] = [];
  if (first === 0 || first === second) return out;
  subproof(source, first, 0, second, true, out);
  return out;
};
