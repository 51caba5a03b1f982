import type { LoggedLeaf, TransparencyLogStore } from '../../domain/ports/transparency-log.ts';
import { isOwnStream } from '../../domain/own-record.ts';

/**
 * A leaf of a record Credence wrote. The log logs every record of the store, another application's too on an
 * EventStoreDB cluster shared with it; those leave $all once their stream is deleted and scavenged (review 179). A
 * leaf logged before the stream index (no stream) is taken as Credence's: such logs come from the embedded store.
 */
export const isOwnLeaf = (leaf: LoggedLeaf): boolean => leaf.stream === undefined || isOwnStream(leaf.stream.streamId);

/**
 * The newest leaf of a record Credence wrote: where the log resumes reading the store, passing over what it logged
 * since (its leaves are past it). Found walking back from the newest leaf, and remembered: the next call walks back
 * only over the leaves appended since, so another application's busy stream is walked once.
 */
export class OwnLeafTracker {
  #walked = 0;
  #own: LoggedLeaf | undefined;

  constructor(private readonly log: Pick<TransparencyLogStore, 'leafAt'>) {}

  /**
   * Among the first `size` leaves: the count the caller vouches for (what it checked against the store, or the leaf the
   * log holds to its row: newest-leaf.ts), never the log's size() read here, which counts a row another process inserted
   * a moment ago (fix 1066): one of Credence's streams far ahead had the log resume reading the store after it.
   */
  newest(size: number): LoggedLeaf | undefined {
    // Fewer leaves than walked: another log file under the same path (a restore); walked again from its end.
    if (size < this.#walked) {
      this.#walked = 0;
      this.#own = undefined;
    }
    for (let i = size - 1; i >= this.#walked; i--) {
      const leaf = this.log.leafAt(i);
      if (leaf !== undefined && isOwnLeaf(leaf)) {
        this.#own = leaf;
        break;
      }
    }
    this.#walked = size;
    return this.#own;
  }
}
