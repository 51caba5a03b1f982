import { TransparencyLogAltered, type LoggedLeaf, type TransparencyLogStore } from '../../domain/ports/transparency-log.ts';

const said = (leaf: LoggedLeaf): string => `position ${leaf.position}, event ${leaf.eventId}${leaf.stream !== undefined ? `, revision ${leaf.stream.revision} of ${leaf.stream.streamId}` : ''}`;

const sameRow = (a: LoggedLeaf, b: LoggedLeaf): boolean =>
  a.position === b.position && a.eventId === b.eventId && a.stream?.streamId === b.stream?.streamId && a.stream?.revision === b.stream?.revision;

/**
 * The newest leaf this process logged or checked against the store, held to the log file's row of it. The log resumes
 * after its newest row's position (`lastPosition`), which the first catch-up checks against the store and nothing
 * after: that row relabelled under a running service (review 262's follow-up, its position rewritten with sqlite3)
 * moved back had the next catch-up read logged events again (a bare SQLite constraint failure, or on a store whose
 * positions have gaps the event logged twice), and moved ahead had every event up to it passed over as logged, the
 * commands acknowledged. Its leaf hash is not compared: signatures cover it, and the audit checks it.
 */
export class NewestLeafWatch {
  #known: LoggedLeaf | undefined;

  constructor(private readonly log: Pick<TransparencyLogStore, 'size' | 'leafAt'>) {}

  /** The newest leaf as this process last saw it logged: what it vouches the log reached. */
  get known(): LoggedLeaf | undefined {
    return this.#known;
  }

  /** Takes the log's newest row as it is now: once the first catch-up checked it against the store, or after an append. */
  takeNewest(): void {
    const size = this.log.size();
    this.#known = size === 0 ? undefined : this.log.leafAt(size - 1);
  }

  /**
   * Undefined while the row of the known newest leaf still says what was logged, and a newer one (another process on
   * the folder: an export) is past it; else the log file altered, said with both rows. A newer leaf appended by another
   * process becomes the known one.
   */
  alteration(): TransparencyLogAltered | undefined {
    try {
      return this.#alteration();
    } catch (error) {
      // A row the row rules refuse (a negative position) is the same finding.
      if (error instanceof TransparencyLogAltered) return error;
      throw error;
    }
  }

  #alteration(): TransparencyLogAltered | undefined {
    const known = this.#known;
    if (known === undefined) return undefined;
    const size = this.log.size();
    const row = size > known.leafIndex ? this.log.leafAt(known.leafIndex) : undefined;
    if (row === undefined) return new TransparencyLogAltered(`leaf ${known.leafIndex}, logged by this process (${said(known)}), is no longer in the file`);
    if (!sameRow(row, known)) {
      return new TransparencyLogAltered(`the row of leaf ${known.leafIndex} says ${said(row)}, where this process logged ${said(known)}: the log's stream index was relabelled under the running service`);
    }
    if (size - 1 === known.leafIndex) return undefined;
    const newest = this.log.leafAt(size - 1);
    // Leaves are appended in store order: a newer leaf at or before a logged position was written by no log.
    if (newest === undefined || newest.position <= known.position) {
      return new TransparencyLogAltered(`its newest leaf ${size - 1} says ${newest === undefined ? 'nothing' : said(newest)}, not after leaf ${known.leafIndex} at position ${known.position}`);
    }
    this.#known = newest;
    return undefined;
  }
}
