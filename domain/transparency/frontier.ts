import { emptyRootHash, hashChildren } from './hashing.ts';

/**
 * The right edge of an append-only tree: the perfect subtrees that the binary decomposition of its size
 * gives, largest (leftmost) first. Appending a leaf only ever combines it with this edge, so the log appends
 * in O(log n) hashes and no reads, and learns which (level, index) nodes became complete to persist them.
 */
export interface Frontier {
  readonly size: number;
  /** Perfect-subtree hashes, left to right; one per set bit of `size`. */
  readonly hashes: readonly Uint8Array[];
}

export interface CompletedNode {
  readonly level: number;
  readonly index: number;
  readonly hash: Uint8Array;
}

export const emptyFrontier: Frontier = { size: 0, hashes: [] };

/** The (level, index) of each perfect subtree on the right edge of a tree of `size` leaves, left to right. */
export const frontierNodes = (size: number): { level: number; index: number }[] => {
  if (!Number.isSafeInteger(size) || size < 0) throw new Error('size: expected a non-negative safe integer');
  const nodes: { level: number; index: number }[] = [];
  let start = 0;
  for (let level = 52; level >= 0; level--) {
    const width = 2 ** level;
    if (size - start >= width) {
      nodes.push({ level, index: start / width });
      start += width;
    }
  }
  return nodes;
};

/** Appends one leaf hash; returns the new edge and every node that this leaf completed (level 0 included). */
export const appendLeafHash = (
  frontier: Frontier,
  leafHash: Uint8Array,
): { frontier: Frontier; completed: CompletedNode[] } => {
  const hashes = frontier.hashes.slice();
  const completed: CompletedNode[] = [];
  let level = 0;
  let index = frontier.size;
  let hash = leafHash;
  completed.push({ level, index, hash });
  // An odd index is a right child: its left sibling is the last edge entry, and together they complete the parent.
  while (index % 2 === 1) {
    const left = hashes.pop();
    if (left === undefined) throw new Error('frontier: edge is shorter than its size says');
    hash = hashChildren(left, hash);
    level += 1;
    index = (index - 1) / 2;
    completed.push({ level, index, hash });
  }
  hashes.push(hash);
  return { frontier: { size: frontier.size + 1, hashes }, completed };
};

/** Root hash of the tree the edge describes (RFC 9162 MTH): the edge folded from the right. */
export const frontierRoot = (frontier: Frontier): Uint8Array => {
  const { hashes } = frontier;
  if (hashes.length === 0) return emptyRootHash();
  let root = hashes[hashes.length - 1]!;
  for (let i = hashes.length - 2; i >= 0; i--) root = hashChildren(hashes[i]!, root);
  return root;
};

/** Root of the tree over these leaf hashes, in O(n) hashing and O(log n) memory. */
export const rootOfLeafHashes = (leafHashes: Iterable<Uint8Array>): { size: number; root: Uint8Array } => {
  let frontier = emptyFrontier;
  for (const leafHash of leafHashes) frontier = appendLeafHash(frontier, leafHash).frontier;
  return { size: frontier.size, root: frontierRoot(frontier) };
};
