import { sha256 } from '@noble/hashes/sha2.js';

/**
 * RFC 9162 section 2.1.1 Merkle Tree Hash with SHA-256: domain-separated leaf (0x00) and interior node (0x01)
 * hashes, so that no leaf can be passed off as an interior node (second-preimage resistance, SER-003).
 */

export const HASH_SIZE = 32;

/** MTH({}) = SHA-256() (RFC 9162 section 2.1.1). */
export const emptyRootHash = (): Uint8Array => sha256(new Uint8Array(0));

/** MTH({d(0)}) = SHA-256(0x00 || d(0)). */
export const hashLeaf = (leaf: Uint8Array): Uint8Array => {
  const input = new Uint8Array(leaf.length + 1);
  input[0] = 0x00;
  input.set(leaf, 1);
  return sha256(input);
};

/** SHA-256(0x01 || left || right). */
export const hashChildren = (left: Uint8Array, right: Uint8Array): Uint8Array => {
  if (left.length !== HASH_SIZE) throw new Error(`left: expected ${HASH_SIZE} bytes, got ${left.length}`);
  if (right.length !== HASH_SIZE) throw new Error(`right: expected ${HASH_SIZE} bytes, got ${right.length}`);
  const input = new Uint8Array(1 + 2 * HASH_SIZE);
  input[0] = 0x01;
  input.set(left, 1);
  input.set(right, 1 + HASH_SIZE);
  return sha256(input);
};
