import { HASH_SIZE, hashChildren } from './hashing.ts';
import { constantTimeEqual } from '../crypto/bytes.ts';

/**
 * Proof verification exactly as RFC 9162 sections 2.1.3.2 (inclusion) and 2.1.4.2 (consistency) describe it.
 * Expected outcomes are values: a bad proof returns false (or undefined), it never throws. Sizes and indexes are
 * plain numbers (safe integers): a tree of 2^53 leaves is not a concern for one site's log.
 */

const half = (n: number): number => Math.floor(n / 2);
const odd = (n: number): boolean => n % 2 === 1;
const wellFormed = (hashes: readonly Uint8Array[]): boolean => hashes.every((h) => h.length === HASH_SIZE);
const validSize = (n: number): boolean => Number.isSafeInteger(n) && n >= 0;
const isPowerOfTwo = (n: number): boolean => n > 0 && 2 ** Math.round(Math.log2(n)) === n;

/** The root that an inclusion proof leads to, or undefined when the proof cannot belong to (index, size). */
export const rootFromInclusionProof = (
  leafIndex: number,
  treeSize: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
): Uint8Array | undefined => {
  if (!validSize(leafIndex) || !validSize(treeSize) || leafIndex >= treeSize) return undefined;
  if (leafHash.length !== HASH_SIZE || !wellFormed(proof)) return undefined;
  let fn = leafIndex;
  let sn = treeSize - 1;
  let r = leafHash;
  for (const p of proof) {
    if (sn === 0) return undefined;
    if (odd(fn) || fn === sn) {
      r = hashChildren(p, r);
      while (!odd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = hashChildren(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 ? r : undefined;
};

/**
 * How many hashes RFC 9162's walk up from (fn, sn) takes until sn is 0, one a step: the loops below and in
 * verifyConsistencyProof move fn and sn alike whatever the hashes are, so a proof's length is fixed by its sizes alone.
 */
const stepsToRoot = (fn: number, sn: number): number => {
  let steps = 0;
  while (sn !== 0) {
    if (odd(fn) || fn === sn) {
      while (!odd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    }
    fn = half(fn);
    sn = half(sn);
    steps++;
  }
  return steps;
};

/** The hashes an inclusion proof of leaf `leafIndex` in a tree of `treeSize` has (RFC 9162 2.1.3.2); none outside it. */
export const inclusionProofLength = (leafIndex: number, treeSize: number): number | undefined =>
  validSize(leafIndex) && validSize(treeSize) && leafIndex < treeSize ? stepsToRoot(leafIndex, treeSize - 1) : undefined;

/**
 * The hashes a consistency proof from `first` to `second` has (RFC 9162 2.1.4.2): none from the empty tree or between
 * equal sizes; the first tree's own root left out when its size is a power of two (the verifier holds it). Undefined
 * for a first tree larger than the second, which no proof extends.
 */
export const consistencyProofLength = (first: number, second: number): number | undefined => {
  if (!validSize(first) || !validSize(second) || first > second) return undefined;
  if (first === 0 || first === second) return 0;
  let fn = first - 1;
  let sn = second - 1;
  while (odd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  return stepsToRoot(fn, sn) + (isPowerOfTwo(first) ? 0 : 1);
};

export const verifyInclusionProof = (
  leafIndex: number,
  treeSize: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean => {
  const computed = rootFromInclusionProof(leafIndex, treeSize, leafHash, proof);
  return computed !== undefined && constantTimeEqual(computed, root);
};

export const verifyConsistencyProof = (
  first: number,
  second: number,
  firstRoot: Uint8Array,
  secondRoot: Uint8Array,
  proof: readonly Uint8Array[],
): boolean => {
  if (!validSize(first) || !validSize(second) || first > second) return false;
  if (!wellFormed(proof) || !wellFormed([firstRoot, secondRoot])) return false;
  // Equal trees: nothing to prove but that they are the same tree.
  if (first === second) return proof.length === 0 && constantTimeEqual(firstRoot, secondRoot);
  // The empty tree is a prefix of every tree.
  if (first === 0) return proof.length === 0;
  if (proof.length === 0) return false;
  const path = isPowerOfTwo(first) ? [firstRoot, ...proof] : proof.slice();
  let fn = first - 1;
  let sn = second - 1;
  while (odd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      while (!odd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = hashChildren(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && constantTimeEqual(fr, firstRoot) && constantTimeEqual(sr, secondRoot);
};
