import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { EventStore, RecordedEvent } from '../../domain/ports/event-store.ts';
import { TransparencyLogAltered, type LoggedLeaf, type TransparencyLogStore } from '../../domain/ports/transparency-log.ts';
import { isOwnStream } from '../../domain/own-record.ts';
import { eventLeafHash } from '../../domain/transparency/leaf.ts';
import { recordAtPosition } from '../runtime/log-check.ts';
import { isOwnLeaf, OwnLeafTracker } from './resume-point.ts';

const said = (leaf: LoggedLeaf): string => `position ${leaf.position}, event ${leaf.eventId}${leaf.stream !== undefined ? `, revision ${leaf.stream.revision} of ${leaf.stream.streamId}` : ''}`;

const sameRow = (a: LoggedLeaf, b: LoggedLeaf): boolean =>
  a.position === b.position && a.eventId === b.eventId && a.stream?.streamId === b.stream?.streamId && a.stream?.revision === b.stream?.revision;

/** The leaf a log writes for `stored`: its id, stream, revision and leaf hash at its position. */
const loggedAs = (leaf: LoggedLeaf, stored: RecordedEvent | undefined): boolean =>
  stored !== undefined &&
  stored.position === leaf.position &&
  stored.id === leaf.eventId &&
  leaf.stream !== undefined &&
  stored.streamId === leaf.stream.streamId &&
  stored.revision === leaf.stream.revision &&
  Buffer.compare(eventLeafHash(stored), leaf.leafHash) === 0;

/**
 * A newer row in the file than this process logged, which only the event store can vouch for (`heldToStore`): what
 * `alteration` says where it cannot read the store, and the log does not go on past it meanwhile.
 */
export class NewerLeafUnchecked extends Error {
  constructor(readonly leaf: LoggedLeaf) {
    super(`the transparency log file holds a leaf newer than this process logged (leaf ${leaf.leafIndex}, position ${leaf.position}): it is held to the event store before the log goes on`);
    this.name = 'NewerLeafUnchecked';
  }
}

/**
 * The newest leaf this process logged or checked against the store, held to the log file's row of it. The log resumes
 * after its newest row's position (`lastPosition`), which the first catch-up checks against the store: that row
 * relabelled under a running service (review 262's follow-up, its position rewritten with sqlite3) moved back had the
 * next catch-up read logged events again (a bare SQLite constraint failure, or on a store whose positions have gaps the
 * event logged twice), and moved ahead had every event up to it passed over as logged, the commands acknowledged. So did
 * a row inserted past it (review 268), which a count kept in memory never saw: the file's newest row is read at each
 * check, and one newer than the known leaf stands only as a log writes it (an export, another log process on the
 * folder), the event the store holds at its position. The known row's leaf hash is not compared: signatures cover
 * it, and the audit checks it.
 */
export class NewestLeafWatch {
  #known: LoggedLeaf | undefined;
  /** Whether `takeNewest` ran: before it, no leaf is vouched for yet and nothing is checked. */
  #taken = false;
  /** Credence's own newest leaf at or below the known one: where `heldToStore` reads the store from (review 427). */
  readonly #ownLeaf: OwnLeafTracker;

  constructor(
    private readonly log: Pick<TransparencyLogStore, 'leafAt' | 'newestLeaf'>,
    private readonly store: EventStore,
    /** Most store records read at once when several newer rows are held to the store (`heldToStore`). */
    private readonly pageSize = 1000,
  ) {
    this.#ownLeaf = new OwnLeafTracker(log);
  }

  /** The newest leaf as this process last saw it logged: what it vouches the log reached. */
  get known(): LoggedLeaf | undefined {
    return this.#known;
  }

  /** The leaf count this process vouches for (the known leaf's and all before it); undefined before `takeNewest`. */
  get vouchedSize(): number | undefined {
    return this.#taken ? (this.#known?.leafIndex ?? -1) + 1 : undefined;
  }

  /**
   * Takes the row before `size` as the newest this process vouches for: `size` is the count its own append returned
   * (`append`), or the count the first catch-up checked against the store. Never the log's size() read now, which counts
   * the file's rows (review 418): a row another process inserted since (fix 1066: between the append's commit and this
   * call, or while the first catch-up indexed a legacy log) was taken as logged, never held to the store (review 268).
   */
  takeNewest(size: number): void {
    this.#known = size === 0 ? undefined : this.log.leafAt(size - 1);
    this.#taken = true;
  }

  /**
   * Undefined while the file's newest row is the known leaf's, saying what was logged (one read); else the log file
   * altered, said with both rows, or NewerLeafUnchecked for a newer row the store has not vouched for yet. `fed`: records
   * of the store at hand (what ingest was handed), which vouch for a newer row at one of their positions without a read.
   */
  alteration(fed: readonly RecordedEvent[] = []): TransparencyLogAltered | NewerLeafUnchecked | undefined {
    try {
      const found = this.#alteration();
      if (!(found instanceof NewerLeafUnchecked)) return found;
      if (found.leaf.leafIndex === this.#nextIndex) {
        const stored = fed.find((e) => e.position === found.leaf.position);
        return stored === undefined ? found : this.#heldTo(found.leaf, stored);
      }
      // Rows under the newer one (review 424: a forged row under a genuine copy of the next event) are each held to the
      // records at hand only when they are the store's run from the known leaf's record on (a page read, the live
      // feed: every caller hands a run of the store's records) through the newer row's position; else `heldToStore`.
      const known = this.#known;
      const start = known === undefined ? -1 : fed.findIndex((e) => e.position === known.position);
      if (start < 0 || (fed[fed.length - 1]?.position ?? -1n) < found.leaf.position) return found;
      const walk = this.#walk(found.leaf);
      for (const stored of fed.slice(start + 1)) {
        const step = walk(stored);
        if (step === 'reached') return this.#take(found.leaf);
        if (step !== undefined) return step;
      }
      return found;
    } catch (error) {
      // A row the row rules refuse (a negative position) is the same finding.
      if (error instanceof TransparencyLogAltered) return error;
      throw error;
    }
  }

  /**
   * `alteration`, with a newer row held to the event store's record at its position (one read), then the known one.
   * Rows under it that this process did not log (another log's catch-up, normally one export's) are each held to the
   * store's record at their position too, read in pages after the known leaf's (review 424: a forged row under a
   * genuine newest one was signed), and a stored record of Credence's between them that no row logs refuses alike.
   */
  async heldToStore(): Promise<TransparencyLogAltered | undefined> {
    const found = this.alteration();
    if (!(found instanceof NewerLeafUnchecked)) return found;
    if (found.leaf.leafIndex === this.#nextIndex) {
      const held = this.#heldTo(found.leaf, await recordAtPosition(this.store, found.leaf.position));
      // Another application's record the store no longer holds (review 427) is told apart by the walk below.
      if (held === undefined || this.store.gapless === true || isOwnLeaf(found.leaf)) return held;
    }
    try {
      const below = await this.#rowsBelowAltered(found.leaf);
      if (below !== undefined) return below;
    } catch (error) {
      if (error instanceof TransparencyLogAltered) return error;
      throw error;
    }
    return this.#take(found.leaf);
  }

  /** The newer row, every row under it held to the store, becomes the known one. */
  #take(newer: LoggedLeaf): undefined {
    // Another hold (a catch-up beside a signature) may have moved the known leaf on meanwhile: it never moves back.
    if (this.#known === undefined || this.#known.leafIndex < newer.leafIndex) this.#known = newer;
    return undefined;
  }

  /** The leaf index right after the known leaf's. */
  get #nextIndex(): number {
    return (this.#known?.leafIndex ?? -1) + 1;
  }

  /**
   * Why the rows after the known leaf up to `newer` are not what a log writes for the store's records after the known
   * leaf's position, or undefined when they are: read in pages of `pageSize` (normally one export's catch-up).
   */
  async #rowsBelowAltered(newer: LoggedLeaf): Promise<TransparencyLogAltered | undefined> {
    const walk = this.#walk(newer);
    const known = this.#known;
    // Review 427: the known leaf may be another application's record, since scavenged, a position EventStoreDB refuses
    // to read from ("Trying to read from an invalid position"): read from Credence's own newest leaf at or below it
    // instead (as the log resumes: resume-point.ts), passing over the records up to the known leaf's position, which
    // this process logged or checked.
    let from = known === undefined || this.store.gapless === true || isOwnLeaf(known) ? known?.position : this.#ownLeaf.newest(known.leafIndex + 1)?.position;
    for (;;) {
      const page: RecordedEvent[] = [];
      for await (const record of this.store.readAll({ ...(from !== undefined ? { afterPosition: from } : {}), maxCount: this.pageSize })) page.push(record);
      // Past the store's head: no event at the row's position.
      if (page.length === 0) return walk(undefined) as TransparencyLogAltered;
      for (const stored of page) {
        if (known !== undefined && stored.position <= known.position) continue;
        const step = walk(stored);
        if (step === 'reached') return undefined;
        if (step !== undefined) return step;
      }
      from = page[page.length - 1]!.position;
      // The embedded store reads synchronously: the probes answer between pages.
      await yieldToLoop();
    }
  }

  /**
   * Steps through the store's records after the known leaf's position, in store order, against the rows after the known
   * leaf up to `newer`: each row must be the record at its position (`loggedAs`), and no record of Credence's (on a
   * gapless store, none at all) passed over between them; another application's may be gone from the log's view (a
   * scavenge on a shared EventStoreDB), and so may a row of another application's record there: one the store no
   * longer holds is passed over (review 427), as the audit counts it apart (`scavengedAway`); a row of Credence's is
   * not. Says `reached` at `newer`'s record, an alteration, or undefined to go on; handed no record (past the store's
   * head), the alteration of the row waiting for one.
   */
  #walk(newer: LoggedLeaf): (stored: RecordedEvent | undefined) => TransparencyLogAltered | 'reached' | undefined {
    const gapless = this.store.gapless === true;
    const after = `after leaf ${this.#known?.leafIndex ?? 'none'} this process logged`;
    const base = this.#known;
    let index = this.#nextIndex;
    const first = index;
    const rowAt = (i: number): LoggedLeaf | undefined => (i === newer.leafIndex ? newer : this.log.leafAt(i));
    let row = rowAt(index);
    return (stored) => {
      if (row === undefined) return new TransparencyLogAltered(`its leaf ${index} is missing under leaf ${newer.leafIndex}, ${after}`);
      // Another application's record the store no longer holds (scavenged since a log logged it): passed over, the
      // stored record (if any) held to the next row. Not on a gapless store, where no record is ever removed.
      while (!gapless && !isOwnLeaf(row) && (stored === undefined || row.position < stored.position)) {
        // Leaves go in store order: a row not after the one before it was written by no log.
        const before = index === first ? base : rowAt(index - 1);
        if (before !== undefined && before.position >= row.position) break;
        if (index === newer.leafIndex) return 'reached';
        index += 1;
        row = rowAt(index);
        if (row === undefined) return new TransparencyLogAltered(`its leaf ${index} is missing under leaf ${newer.leafIndex}, ${after}`);
      }
      // A row at a position the store holds no record at, or not after the row before it (leaves go in store order).
      if (stored === undefined || row.position < stored.position) return this.#unwritten(row, undefined, after);
      if (row.position > stored.position) {
        if (!gapless && !isOwnStream(stored.streamId)) return undefined;
        return new TransparencyLogAltered(
          `the event store holds event ${stored.id}, revision ${stored.revision} of ${stored.streamId}, at position ${stored.position}, which no leaf up to leaf ${newer.leafIndex} logs: ${after}`,
        );
      }
      if (!loggedAs(row, stored)) return this.#unwritten(row, stored, after);
      if (index === newer.leafIndex) return 'reached';
      index += 1;
      row = rowAt(index);
      return undefined;
    };
  }

  #unwritten(row: LoggedLeaf, stored: RecordedEvent | undefined, after: string): TransparencyLogAltered {
    const holds = stored === undefined ? 'no event there' : `event ${stored.id}, revision ${stored.revision} of ${stored.streamId}`;
    return new TransparencyLogAltered(`its leaf ${row.leafIndex} says ${said(row)}, where the event store holds ${holds}: no log wrote it, ${after}`);
  }

  /** The newer row becomes the known one when it is the leaf a log writes for the store's record at its position. */
  #heldTo(newer: LoggedLeaf, stored: RecordedEvent | undefined): TransparencyLogAltered | undefined {
    // Another hold may have moved the known leaf on during the read: it never moves back (review 427), as in `#take`.
    if (loggedAs(newer, stored)) return this.#take(newer);
    const holds = stored === undefined ? 'no event there' : `event ${stored.id}, revision ${stored.revision} of ${stored.streamId}`;
    return new TransparencyLogAltered(
      `its newest leaf ${newer.leafIndex} says ${said(newer)}, where the event store holds ${holds}: no log wrote it, after leaf ${this.#known?.leafIndex ?? 'none'} this process logged`,
    );
  }

  #alteration(): TransparencyLogAltered | NewerLeafUnchecked | undefined {
    if (!this.#taken) return undefined;
    const known = this.#known;
    const newest = this.log.newestLeaf();
    if (known !== undefined && newest?.leafIndex === known.leafIndex && sameRow(newest, known)) return undefined;
    if (known !== undefined) {
      const row = newest === undefined || newest.leafIndex < known.leafIndex ? undefined : newest.leafIndex === known.leafIndex ? newest : this.log.leafAt(known.leafIndex);
      if (row === undefined) return new TransparencyLogAltered(`leaf ${known.leafIndex}, logged by this process (${said(known)}), is no longer in the file`);
      if (!sameRow(row, known)) {
        return new TransparencyLogAltered(`the row of leaf ${known.leafIndex} says ${said(row)}, where this process logged ${said(known)}: the log's stream index was relabelled under the running service`);
      }
    }
    if (newest === undefined) return undefined;
    // Leaves are appended in store order: a newer leaf at or before a logged position was written by no log.
    if (known !== undefined && newest.position <= known.position) {
      return new TransparencyLogAltered(`its newest leaf ${newest.leafIndex} says ${said(newest)}, not after leaf ${known.leafIndex} at position ${known.position}`);
    }
    return new NewerLeafUnchecked(newest);
  }
}
