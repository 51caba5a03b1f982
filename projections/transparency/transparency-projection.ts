import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { CheckpointWitness } from '../../domain/ports/checkpoint-witness.ts';
import type { EventStore, RecordedEvent, StoreSubscription } from '../../domain/ports/event-store.ts';
import { TransparencyLogAltered, type LogRefusal, type StoredCheckpoint, type TransparencyLogStore } from '../../domain/ports/transparency-log.ts';
import type { CheckpointSigner } from '../../domain/transparency/checkpoint-signer.ts';
import { eventLeafHash } from '../../domain/transparency/leaf.ts';
import { describeOtherLog, notInLog } from '../runtime/log-check.ts';
import { describeKeptRefusal, firstLeafNotInStore, refusalOf, TransparencyLogOfAnotherLog } from './log-refusal.ts';
import { assertStillSigned, holdToWitness, signCheckpoint, TransparencyLogForked } from './sign-checkpoint.ts';
import { indexLegacyLeaves } from './stream-index.ts';
import { isOwnLeaf, OwnLeafTracker } from './resume-point.ts';
import { NewerLeafUnchecked, NewestLeafWatch } from './newest-leaf.ts';

/** How many newer rows of other logs one ingest holds to the store before it gives up for this pass (`whenHeld`). */
const MAX_HOLDS = 64;

/** The log key refuses this log: it does not extend what the key signed, or its file holds rows no log writes (review 108). */
const isRefusalToSign = (error: unknown): error is TransparencyLogForked | TransparencyLogAltered =>
  error instanceof TransparencyLogForked || error instanceof TransparencyLogAltered;

export interface TransparencyProjectionOptions {
  readonly store: EventStore;
  readonly log: TransparencyLogStore;
  readonly signer: CheckpointSigner;
  /** Checkpoint origin line, e.g. `credence.local/log`. */
  readonly origin: string;
  /** Clock for checkpoint times (injectable, as every clock in Credence). */
  readonly now: () => Date;
  /** Sign a checkpoint once this many leaves were appended since the last one. Default 1000. */
  readonly checkpointEveryLeaves?: number;
  /** Sign a checkpoint of new leaves this often. Default 10 000 ms; 0 turns the timer off. */
  readonly checkpointEveryMs?: number;
  /** Most leaves appended per SQLite transaction. Default 1000. */
  readonly batchSize?: number;
  /**
   * A copy of the latest checkpoint kept outside the log file (review 98): the log is held to it before this process
   * signs anything (the constructor throws TransparencyLogForked or CheckpointWitnessOfAnotherLog), and every later
   * checkpoint replaces it.
   */
  readonly witness?: CheckpointWitness;
  /** Errors the live loop or the timer could not get past (the projection stops following on a live error). */
  readonly onError?: (error: unknown) => void;
}

/**
 * The non-repudiation log projection (issue 4 items 2 and 3; SER-016, SER-003): every stored event, whatever
 * its type and whether or not it decodes, becomes the next leaf. Its checkpoint is the log itself (the newest
 * leaf's position, committed with the leaves), so a restart resumes exactly and a redelivered event is skipped.
 * Leaves are appended in batches, one transaction each, so the log keeps up with the store.
 */
export class TransparencyProjection {
  private readonly batchSize: number;
  private readonly everyLeaves: number;
  private buffer: RecordedEvent[] = [];
  private flushScheduled = false;
  private subscription: StoreSubscription | undefined;
  private following: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private signing: Promise<unknown> = Promise.resolve();
  /**
   * Why the key last refused to sign (the log changed under this process: TransparencyLogForked, or a file whose rows
   * say what no log writes, TransparencyLogAltered), until a signature or a check succeeds again.
   */
  private forked: TransparencyLogForked | TransparencyLogAltered | undefined;
  private waiters: { position: bigint; resolve: () => void }[] = [];
  /** The newest leaf of Credence's own records: where reads of the store resume (resume-point.ts). */
  private readonly ownLeaf: OwnLeafTracker;
  /** The newest leaf this process logged or checked, held to its row before the log resumes after it (newest-leaf.ts). */
  private readonly newest: NewestLeafWatch;
  /** Its row found changed under this process: nothing is logged on until it says what was logged again. */
  private altered: TransparencyLogAltered | undefined;
  /** The first catch-up has checked the log against the store and indexed a legacy log's leaves. */
  private firstCatchUpDone = false;
  /**
   * Kept once found, here and in the log file: the log stays stopped until the operator acts (restores the `events.db`
   * that holds every logged event, or starts a new log), even should the store come to hold the logged event at its
   * newest leaf's position again, the events before it differing (README.md, "Restoring the event store from a
   * backup").
   */
  private refused: TransparencyLogOfAnotherLog | undefined;
  private cleared: LogRefusal | undefined;
  /** The first leaves' checkpoint, once asked for (`firstCheckpoint`); whether that was decided yet. */
  private first: Promise<unknown> = Promise.resolve();
  private firstDecided = false;
  /** The tree size the checkpoint witness keeps, as this process last read or wrote it. */
  private witnessed = 0;
  /** Why the latest checkpoint could not be kept in the witness, until a copy is written again. */
  private unkept: Error | undefined;
  /** The leaves the log held when this opening found a witness that held none: said at the start (`witnessBegun`). */
  private begun: number | undefined;

  constructor(private readonly options: TransparencyProjectionOptions) {
    this.batchSize = options.batchSize ?? 1000;
    this.everyLeaves = options.checkpointEveryLeaves ?? 1000;
    this.ownLeaf = new OwnLeafTracker(options.log);
    this.newest = new NewestLeafWatch(options.log, options.store, this.batchSize);
    if (!Number.isSafeInteger(this.batchSize) || this.batchSize < 1) throw new Error('options.batchSize: must be >= 1');
    if (!Number.isSafeInteger(this.everyLeaves) || this.everyLeaves < 1) throw new Error('options.checkpointEveryLeaves: must be >= 1');
    if (options.witness !== undefined) {
      const held = holdToWitness(options.log, options.signer, options.witness);
      this.witnessed = held.witnessed;
      // A witness named for the first time, or left behind by a process killed between its signature and the copy: a
      // copy that cannot be written refuses the opening, before anything is signed.
      if (held.latest !== undefined) this.keepWitness(held.latest);
      // Its checkpoints may have gone with the copy (review 108): the leaves say the log is not new. The file's count,
      // as the log was found (size() counts another process's leaves too).
      const found = options.log.size();
      if (held.witnessed === 0 && found > 0) this.begun = found;
    }
  }

  /** Position of the newest logged event: this projection's checkpoint. */
  get position(): bigint | undefined {
    // The newest row altered (moved ahead) must not tell waiting commands their events are logged.
    return this.altered !== undefined ? this.newest.known?.position : this.options.log.lastPosition();
  }

  /**
   * The refusal an earlier process kept that this one's first catch-up lifted, the store found to hold every logged
   * event again: for the process to say so.
   */
  get clearedRefusal(): LogRefusal | undefined {
    return this.cleared;
  }

  /**
   * The refusal that stopped the log, once a catch-up found it holds events the store does not (or kept it from an
   * earlier process): it stays until the operator acts, so whatever is written meanwhile is what the restore README
   * recommends will drop. Undefined while the log goes on.
   */
  get stoppedOnAnotherLog(): TransparencyLogOfAnotherLog | undefined {
    return this.refused;
  }

  /** Leaves covered by the latest signed checkpoint (0 before the first). */
  get signedSize(): number {
    return this.options.log.latestCheckpoint()?.treeSize ?? 0;
  }

  /**
   * `ingest`, a newer row another process wrote (an export racing the live feed) held to the store first when the
   * records at hand do not vouch for it: the live runtime's feed, which then neither fails nor says an error for it.
   */
  ingestHeld(events: readonly RecordedEvent[]): Promise<number> {
    return this.whenHeld(() => this.ingest(events));
  }

  /** Appends the events the log does not hold yet, in one transaction; returns how many it appended. */
  ingest(events: readonly RecordedEvent[]): number {
    if (this.refused !== undefined) throw this.refused;
    this.holdNewest(events);
    const last = this.options.log.lastPosition();
    const fresh = last === undefined ? events : events.filter((e) => e.position > last);
    const committed = this.options.log.append(
      fresh.map((e) => ({
        position: e.position,
        eventId: e.id,
        leafHash: eventLeafHash(e),
        stream: { streamId: e.streamId, revision: e.revision },
      })),
    );
    if (fresh.length > 0) {
      // The row as committed: another writer (an export) may have logged some of these, or more, first. At the count the
      // append returned, not the file's read now: a row inserted since its commit is held to the store (fix 1066).
      this.newest.takeNewest(committed);
      this.afterAppend();
    }
    return fresh.length;
  }

  /**
   * The log resumes after its newest row's position, checked against the store at the first catch-up only: that row,
   * or the newest this process logged since, must still say what was logged, or nothing is logged on (review 262's
   * follow-up). Said as the log changed under the service is (`refusesToSign`: not ready), until the row is put back.
   * A newer row another process wrote stands only as the store's event at its position (review 268): `events` hold it
   * when the row is one of theirs (another log raced this one to them); else ingest, synchronous, cannot read it, logs
   * nothing past the row and throws NewerLeafUnchecked, and the callers that can wait hold the row to the store and try
   * again (`whenHeld`; `ingestHeld`, the live runtime's feed).
   */
  private holdNewest(events: readonly RecordedEvent[]): void {
    const found = this.newest.alteration(events);
    if (found instanceof NewerLeafUnchecked) throw found;
    this.altered = found;
    if (found !== undefined) throw found;
  }

  /** `holdNewest` with a newer row held to the store's record at its position (one read when there is one). */
  private async holdNewestToStore(): Promise<void> {
    this.altered = await this.newest.heldToStore();
    if (this.altered !== undefined) throw this.altered;
  }

  /** Runs `work` (an ingest); a newer row it found unchecked is held to the store, and the work run again once it stands. */
  private async whenHeld<T>(work: () => T): Promise<T> {
    // Another log (an export) may append again while a row is held to the store (review 275: a second try alone failed
    // then, an error logged in a healthy service). Each hold moves the known leaf on to a row a log wrote, so the tries
    // end once that log stops; the bound only keeps a log appending without pause from holding this one for ever.
    for (let held = 0; ; held++) {
      try {
        return work();
      } catch (error) {
        if (!(error instanceof NewerLeafUnchecked) || held === MAX_HOLDS) throw error;
        await this.holdNewestToStore();
      }
    }
  }

  /**
   * Logs every stored event past the checkpoint; resolves once the log has reached the store's head. The first
   * call also enters the leaves of a log file older than the stream index into it (`indexLegacyLeaves`).
   */
  async catchUp(): Promise<number> {
    if (this.refused !== undefined) throw this.refused;
    if (!this.firstCatchUpDone) {
      // The newest leaf as the check against the store found it: a row inserted while the legacy leaves were indexed
      // (awaits) is not taken with it (fix 1066), but held to the store below.
      const checked = await this.refuseAnotherLog();
      await indexLegacyLeaves({ store: this.options.store, log: this.options.log });
      this.newest.takeNewest(checked);
      this.firstCatchUpDone = true;
    }
    // Before the resume point is read, the first catch-up's too: a row inserted far ahead would have the pass read
    // nothing, as caught up, and its position taken as logged.
    await this.holdNewestToStore();
    let total = 0;
    // After the newest leaf of Credence's own records, not the newest leaf, which may be another application's record
    // gone from the store since (a read after it is refused): the records logged after it are read again and passed
    // over (ingest). Then after each page read, which this catch-up has just seen in the store.
    let after = this.resumePoint();
    for (;;) {
      const batch: RecordedEvent[] = [];
      for await (const event of this.options.store.readAll({
        ...(after !== undefined ? { afterPosition: after } : {}),
        maxCount: this.batchSize,
      })) {
        batch.push(event);
      }
      if (batch.length === 0) return total;
      total += await this.whenHeld(() => this.ingest(batch));
      after = batch[batch.length - 1]!.position;
      // The embedded store reads and the leaves are hashed synchronously: without a turn of the event loop per page,
      // logging a whole store (a fresh transparency.db) left the process deaf to its probes until it ended, as the
      // read models' catch-up did (projections/runtime/catch-up.ts).
      await yieldToLoop();
    }
  }

  /**
   * Its newest leaf must be the event the store holds at that position, its id and its content (the leaf hash):
   * otherwise TransparencyLogOfAnotherLog, kept in the log file. A restored store that re-derived or was resent the
   * lost events holds their ids there again, decided at a later instant; logging on would sign leaves the store
   * contradicts. A refusal kept by an earlier process holds until every leaf is found in the store again: the newest
   * alone can come back byte for byte while earlier events differ (a restore with the clock set back). Returns the
   * leaf count it checked: the leaf before it is the newest this process vouches for (`takeNewest`).
   */
  private async refuseAnotherLog(): Promise<number> {
    const { store, log } = this.options;
    // The file's count: another process's leaves are checked with the rest.
    const size = log.size();
    const kept = log.keptRefusal();
    if (kept !== undefined) {
      // Every leaf, the first `size` among them.
      const differing = await firstLeafNotInStore(store, log, this.batchSize);
      if (differing !== undefined) throw (this.refused = new TransparencyLogOfAnotherLog(describeKeptRefusal(kept, differing)));
      log.clearRefusal();
      this.cleared = kept;
      return size;
    }
    const newest = size === 0 ? undefined : log.leafAt(size - 1);
    if (newest === undefined) return size;
    // The newest leaf, and when that is another application's record (which a scavenge may have removed, telling
    // nothing of the log: log-check.ts), the newest of Credence's own too.
    const own = store.gapless === true || isOwnLeaf(newest) ? undefined : this.ownLeaf.newest(size);
    for (const leaf of own === undefined ? [newest] : [newest, own]) {
      const handled = { id: leaf.eventId, leafHash: leaf.leafHash, ...(leaf.stream !== undefined ? { streamId: leaf.stream.streamId } : {}) };
      const other = await notInLog(store, 'transparency', leaf.position, handled);
      if (other === undefined) continue;
      this.refused = new TransparencyLogOfAnotherLog(describeOtherLog(other));
      log.keepRefusal(await refusalOf(store, leaf, this.options.now()));
      throw this.refused;
    }
    return size;
  }

  /**
   * Where reads of the store resume: after the newest leaf on a gapless store (the embedded one: every record stays),
   * else after the newest leaf of Credence's own records (review 179).
   */
  private resumePoint(): bigint | undefined {
    if (this.options.store.gapless === true) return this.options.log.lastPosition();
    // Among the leaves up to the one this process vouches for, not the file's count (fix 1066).
    return this.ownLeaf.newest((this.newest.known?.leafIndex ?? -1) + 1)?.position;
  }

  /** Catches up, then follows the store live and starts the checkpoint timer. */
  async start(): Promise<void> {
    if (this.subscription !== undefined) throw new Error('transparency projection is already started');
    await this.catchUp();
    // After Credence's own newest leaf, as catchUp reads: what was logged after it is passed over (ingest).
    const after = this.resumePoint();
    this.subscription = this.options.store.subscribeToAll({
      from: after === undefined ? { kind: 'start' } : { kind: 'after', position: after },
    });
    this.following = this.follow(this.subscription);
    const every = this.options.checkpointEveryMs ?? 10_000;
    if (every > 0) {
      this.timer = setInterval(() => this.checkpointIfBehind(), every);
      // The log must not keep the process alive on its own.
      this.timer.unref();
    }
  }

  private async follow(subscription: StoreSubscription): Promise<void> {
    try {
      for await (const event of subscription) {
        this.buffer.push(event);
        if (this.buffer.length >= this.batchSize) await this.whenHeld(() => this.flush());
        else this.scheduleFlush();
      }
    } catch (error) {
      this.options.onError?.(error);
    } finally {
      // A flush that fails keeps its events for the next one (catchUp, stop); said, never left unhandled.
      try {
        await this.whenHeld(() => this.flush());
      } catch (error) {
        this.options.onError?.(error);
      }
    }
  }

  // Events that arrive together (a multi-event append, a catch-up page) share one transaction.
  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.whenHeld(() => this.flush()).catch((error: unknown) => this.options.onError?.(error));
    });
  }

  /** The buffer is let go once its leaves are in: a failed append (SQLITE_BUSY) keeps them for the next flush, not a gap. */
  private flush(): void {
    if (this.buffer.length === 0) return;
    this.ingest(this.buffer);
    this.buffer = [];
  }

  private afterAppend(): void {
    const position = this.options.log.lastPosition();
    if (position !== undefined) {
      const ready = this.waiters.filter((w) => w.position <= position);
      this.waiters = this.waiters.filter((w) => w.position > position);
      for (const w of ready) w.resolve();
    }
    if (this.options.log.size() - this.signedSize >= this.everyLeaves) this.checkpointIfBehind();
    if (!this.firstDecided) this.signFirst();
  }

  /**
   * A log that holds leaves and no checkpoint signs one now, not at the timer's next tick: until then the key vouched
   * for none of a new folder's events, and `verify --data` could only say it verified nothing (review 93). Asked once
   * per process, at its first append; not with the timer off (`checkpointEveryMs: 0`: signed on demand only).
   */
  private signFirst(): void {
    this.firstDecided = true;
    if ((this.options.checkpointEveryMs ?? 10_000) === 0 || this.signedSize > 0) return;
    this.checkpointIfBehind();
    this.first = this.signing;
  }

  /**
   * Resolves once the first checkpoint asked for at the log's first leaves is signed (or its failure told to
   * `onError`, the timer then trying again): the live runtime holds an event handled only then.
   */
  firstCheckpoint(): Promise<unknown> {
    return this.first;
  }

  /**
   * Signs a checkpoint over unsigned leaves once the latest checkpoint is older than the period (by the injected
   * clock), when none was signed yet, or when the latest is dated after now: the timer's work for a process that
   * catches up instead of following live (openCredence's settle), so a crash never leaves more than a period of logged
   * events unsigned. A checkpoint signed while the clock ran ahead (then stepped back) would otherwise hold the next
   * one back until the clock passed it, a year ahead a year (review 26). The new one carries the clock's time, earlier
   * than the one before: checkpoints are ordered by tree size, and no verifier compares their times.
   */
  async checkpointIfDue(): Promise<void> {
    const every = this.options.checkpointEveryMs ?? 10_000;
    if (every === 0) return;
    const { log, now } = this.options;
    const latest = log.latestCheckpoint();
    if (log.size() <= this.signedSize) return;
    const elapsed = latest === undefined ? undefined : now().getTime() - Date.parse(latest.time);
    if (elapsed !== undefined && elapsed >= 0 && elapsed < every) return;
    this.checkpointIfBehind();
    await this.signing;
  }

  private checkpointIfBehind(): void {
    this.signing = this.signing.then(async () => {
      if (this.options.log.size() > this.signedSize) await this.sign();
    }).catch((error: unknown) => this.options.onError?.(error));
  }

  private async sign(): Promise<StoredCheckpoint> {
    const { log, signer, origin, now } = this.options;
    try {
      // The size signed is the file's (review 418): leaves another process logged and did not sign (an export killed
      // between its catch-up and its signature) are signed here, once its newest row stands as the store's event at
      // its position, as a newer row of another writer's stands before the log goes on (`holdNewestToStore`).
      await this.holdNewestToStore();
      // At the count held to the store, not the file's read again: a row inserted after the hold is not signed unchecked.
      const treeSize = this.newest.vouchedSize;
      const signed = await signCheckpoint({ log, signer, origin, now, ...(treeSize !== undefined ? { treeSize } : {}) });
      this.forked = undefined;
      this.keepWitnessOrSay(signed);
      return signed;
    } catch (error) {
      if (isRefusalToSign(error)) this.forked = error;
      throw error;
    }
  }

  /**
   * The witness gets the checkpoint when it is larger than the one kept: another process on the folder (an export)
   * may have kept a larger one since this one last looked, and a smaller copy would hold the log to less. Throws when
   * the copy cannot be written: at the opening that refuses it; after a signature, `keepWitnessOrSay` keeps why.
   */
  private keepWitness(signed: StoredCheckpoint): void {
    const { witness, log, signer } = this.options;
    if (witness === undefined || signed.treeSize <= this.witnessed) return;
    const kept = holdToWitness(log, signer, witness).witnessed;
    if (kept < signed.treeSize) witness.keep(signed.note);
    this.witnessed = Math.max(kept, signed.treeSize);
  }

  /**
   * A checkpoint signed is the caller's (an inclusion proof, an evidence bundle) even when its copy cannot be written:
   * the failure is kept (`witnessUnkept`: the service is not ready, and its runtime says why at every period) and the
   * copy tried again at the next checkpoint or check (review 105: it failed the proof asked for, as the caller's 400,
   * naming the server's path, while the service stayed ready).
   */
  private keepWitnessOrSay(signed: StoredCheckpoint): void {
    try {
      this.keepWitness(signed);
      this.unkept = undefined;
    } catch (error) {
      this.unkept = error instanceof Error ? error : new Error(String(error));
    }
  }

  /**
   * Checks, without signing, that the log still extends what the key signed last; a refusal is kept as
   * `refusesToSign` (and thrown), lifted once the check or a signature passes again. For a runtime with nothing new to
   * sign, so that a log changed under a quiet service is not ready at once rather than at its next event. A copy the
   * witness still lacks is tried again, and its failure thrown.
   */
  checkStillSigned(): void {
    try {
      assertStillSigned(this.options.log, this.options.signer);
      this.forked = undefined;
    } catch (error) {
      if (isRefusalToSign(error)) this.forked = error;
      throw error;
    }
    const latest = this.options.log.latestCheckpoint();
    if (this.unkept !== undefined && latest !== undefined) this.keepWitnessOrSay(latest);
    if (this.unkept !== undefined) throw this.unkept;
  }

  /** Why the latest checkpoint is not in the checkpoint witness (it could not be written), until it is. */
  get witnessUnkept(): Error | undefined {
    return this.unkept;
  }

  /**
   * How many leaves the log held when this opening found a witness that held none (missing or empty): a first start
   * with the setting over a log in use, or a copy deleted since (with the log's checkpoints, or not), which nothing
   * can tell apart. Said at warn at the start: the log was taken as it was found.
   */
  get witnessBegun(): number | undefined {
    return this.begun;
  }

  /**
   * Why the log key refuses to sign this log: its checkpoints were removed or its leaves altered under this process
   * (sign-checkpoint.ts), until a signature succeeds again. The service is not ready meanwhile (review 97: it signed
   * nothing more and said so only in GET /v1/projections, while /readyz answered ready).
   */
  get refusesToSign(): TransparencyLogForked | TransparencyLogAltered | undefined {
    return this.forked ?? this.altered;
  }

  /** Signs a checkpoint of everything received so far, on demand. Checkpoints are signed one at a time. */
  async checkpoint(): Promise<StoredCheckpoint> {
    // As every other flush: a newer row another writer logged past the buffered events is held to the store, not
    // thrown as NewerLeafUnchecked (review 418: a 500 where catchUp went on).
    await this.whenHeld(() => this.flush());
    const signed = this.signing.then(() => this.sign());
    this.signing = signed.catch(() => undefined);
    return signed;
  }

  /** Resolves once the event at `position` (or a later one) is in the log. */
  waitFor(position: bigint): Promise<void> {
    const last = this.options.log.lastPosition();
    if (last !== undefined && last >= position) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ position, resolve }));
  }

  /** How far the log is behind the store, in global positions (0 when caught up). */
  async lag(): Promise<bigint> {
    const head = await this.options.store.headPosition();
    const last = this.options.log.lastPosition();
    if (head === undefined) return 0n;
    return last === undefined ? head : head > last ? head - last : 0n;
  }

  /** Stops following, logs what was received, and waits for pending signatures. */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.subscription?.unsubscribe();
    await this.following;
    this.subscription = undefined;
    this.following = undefined;
    await this.whenHeld(() => this.flush());
    await this.signing;
  }
}
