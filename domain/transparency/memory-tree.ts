import type { HashSource } from './tree.ts';
import { appendLeafHash, emptyFrontier, frontierRoot, type Frontier } from './frontier.ts';

/**
 * A transparency tree held in memory: every completed node by level. For tests, the offline verifier and
 * small exports; the persisted log is the SQLite adapter.
 */
export class MemoryTree implements HashSource {
  private readonly levels: Uint8Array[][] = [];
  private frontier: Frontier = emptyFrontier;

  constructor(leafHashes: Iterable<Uint8Array> = []) {
    for (const leafHash of leafHashes) this.append(leafHash);
  }

  get size(): number {
    return this.frontier.size;
  }

  append(leafHash: Uint8Array): number {
    const index = this.frontier.size;
    const { frontier, completed } = appendLeafHash(this.frontier, leafHash);
    for (const node of completed) (this.levels[node.level] ??= [])[node.index] = node.hash;
    this.frontier = frontier;
    return index;
  }

  root(): Uint8Array {
    return frontierRoot(this.frontier);
  }

  nodeHash(level: number, index: number): Uint8Array {
    const hash = this.levels[level]?.[index];
    if (hash === undefined) throw new Error(`node (${level}, ${index}) is not complete in a tree of ${this.size}`);
    return hash;
  }
}
