import type Database from 'better-sqlite3';
import type { DecodedEvent } from '../../domain/stored.ts';
import type { EventStore, RecordedEvent, StoreSubscription } from '../../domain/ports/event-store.ts';
import { applyBatch, pastCheckpoint, reactInBatches, writeLockOf, type DecodedBatch } from './batch.ts';
import { CatchUp } from './catch-up.ts';
import { deleteCheckpoint, readCheckpoint, setupCheckpoints } from './checkpoints.ts';
import { projectionLag } from './lag.ts';
import { checkpointsOfAnotherLog, type OtherLog } from './log-check.ts';
import { decodeOnce } from './read-page.ts';
import { checkpointableOn, resumePointOf } from './resume-point.ts';
import { ReadModelRulesChanged, RulesChecks, recordedRulesChanges, rulesChangeOf, writeRules, type RulesChange } from './rules.ts';
import type { RunnerOptions } from './runner-options.ts';
import { takeSchemaChanges, type SchemaChange } from './schema-version.ts';
import type { Projection, ProjectionLag, ReadModelRules, ResetCause } from './types.ts';

/**
 * Runs projections: catch up from each checkpoint in batches, then follow the store live. Each batch's
 * read-model writes and its checkpoint commit in one transaction, for projections with reactions too
 * (batch.ts: the reactions are awaited inside it, in order, one savepoint per event). Catching every projection
 * up together reads the store once and decodes each event once for all of them.
 */
export class ProjectionRunner {
  readonly #db: Database.Database;
  readonly #store: EventStore;
  readonly #projections: Map<string, Projection>;
  readonly #batchSize: number;
  readonly #maxBatchMs: number;
  readonly #live = new Map<string, StoreSubscription>();
  readonly #running = new Map<string, Promise<void>>();
  /** Each projection's event types as a set, for `handle` (undefined: every type). */
  readonly #types: Map<string, ReadonlySet<string> | undefined>;
  /**
   * Decoded records: when one caller feeds the same records to several projections (`handle`), each is decoded
   * (upcast, parsed by zod) once, not once per projection. Weak: an entry lives as long as its record.
   */
  readonly #decoded = new WeakMap<RecordedEvent, DecodedEvent | null>();
  readonly #catchUp: CatchUp;
  readonly #schemaChanges: readonly SchemaChange[];

  constructor(private readonly options: RunnerOptions) {
    this.#db = options.db;
    this.#store = options.store;
    this.#batchSize = options.batchSize ?? 2000;
    this.#maxBatchMs = options.maxBatchMs ?? 100;
    if (!Number.isSafeInteger(this.#batchSize) || this.#batchSize < 1) throw new RangeError('options.batchSize: must be a whole number >= 1');
    if (!(this.#maxBatchMs >= 0)) throw new RangeError('options.maxBatchMs: must be a number of ms >= 0');
    this.#projections = new Map(options.projections.map((p) => [p.name, p]));
    this.#types = new Map(options.projections.map((p) => [p.name, p.eventTypes === undefined ? undefined : new Set(p.eventTypes)]));
    this.#catchUp = new CatchUp({
      db: this.#db,
      store: this.#store,
      batchSize: this.#batchSize,
      types: this.#types,
      generation: (name) => this.#generation(name),
      resumeAfter: (name) => this.#resumeAfter(name),
      handleBatch: (projection, batch, events, generation) =>
        this.#exclusive(projection.name, () => this.#handleBatch(projection, batch, events, generation)),
    });
    setupCheckpoints(this.#db);
    for (const p of options.projections) p.setup(this.#db);
    this.#schemaChanges = takeSchemaChanges(this.#db);
  }

  /**
   * The read models this runner's setup found written by another version of their tables (an upgrade, or a
   * downgrade) and emptied: each is rebuilt from position 0 by the next catch-up. For the process to say so.
   */
  schemaChanges(): readonly SchemaChange[] {
    return this.#schemaChanges;
  }

  get names(): string[] {
    return [...this.#projections.keys()];
  }

  #get(name: string): Projection {
    const projection = this.#projections.get(name);
    if (projection === undefined) throw new RangeError(`unknown projection ${name} (known: ${this.names.join(', ')})`);
    return projection;
  }

  /** Where reads resume for each checkpoint that is no readable position, as last found (resume-point.ts). */
  readonly #resumes = new Map<string, { readonly position: bigint; readonly after: bigint | undefined }>();

  async #resumeAfter(name: string): Promise<bigint | undefined> {
    const checkpoint = readCheckpoint(this.#db, name);
    if (checkpoint === undefined) return undefined;
    const known = this.#resumes.get(name);
    if (known?.position === checkpoint.position) return known.after;
    const after = await resumePointOf(this.#store, checkpoint);
    this.#resumes.set(name, { position: checkpoint.position, after });
    return after;
  }

  checkpoint(name: string): bigint | undefined {
    return readCheckpoint(this.#db, this.#get(name).name)?.position;
  }

  readonly #locks = new Map<string, Promise<unknown>>();

  /** One handler at a time per projection: catch-up (settle, tick) and live following never interleave. */
  #exclusive<T>(name: string, work: () => Promise<T>): Promise<T> {
    const run = (this.#locks.get(name) ?? Promise.resolve()).then(work, work);
    this.#locks.set(name, run.catch(() => undefined));
    return run;
  }

  /** Bumped by rebuild(): a batch read before a rebuild must not be handled after it. */
  readonly #generations = new Map<string, number>();

  #generation(name: string): number {
    return this.#generations.get(name) ?? 0;
  }

  /** How many times `name` was rebuilt: what `handle` compares, so that it never applies events over a reset. */
  generation(name: string): number {
    return this.#generation(this.#get(name).name);
  }

  /** Records that several projections are fed one by one (`handle`) are decoded once, through `#decoded`. */
  #decodeShared(records: readonly RecordedEvent[]): DecodedBatch {
    return records.map((record) => {
      let decoded = this.#decoded.get(record);
      if (decoded === undefined) {
        decoded = decodeOnce(record) ?? null;
        this.#decoded.set(record, decoded);
      }
      return decoded ?? undefined;
    });
  }

  /**
   * False when a rebuild came between the read and now: nothing applied. Otherwise how many events past the
   * checkpoint were handled. `events` are the records' decoded events, index by index. Each transaction runs under
   * the connection's write lock (batch.ts).
   */
  #handleBatch(projection: Projection, batch: readonly RecordedEvent[], events: DecodedBatch, generation: number): Promise<number | false> {
    const pending = () => (generation !== this.#generation(projection.name) ? false : pastCheckpoint(this.#db, projection.name, batch, events));
    const checkpointable = checkpointableOn(this.#store);
    if (projection.react !== undefined) {
      return reactInBatches(this.#db, projection, pending, { maxEvents: this.#batchSize, maxMs: this.#maxBatchMs }, checkpointable);
    }
    return writeLockOf(this.#db).run(() => {
      const past = pending();
      if (past === false) return false;
      if (past.records.length > 0) applyBatch(this.#db, projection, past.records, past.decoded, checkpointable);
      return past.records.length;
    });
  }

  /**
   * Handles events the caller already holds, as `catchUp` would have read them: `records` is every event of the
   * store after some position the projection has handled, in order and of any type, as a live subscription
   * delivers them. The projection's own types are picked here and those past its checkpoint applied, in batches
   * with their checkpoint. This spares each projection a read of the store (and each event a decode per
   * projection) when one subscription feeds them all (the live runtime, adapters/runtime/live.ts).
   *
   * `generation` is `generation(name)` read before the caller last caught up from the store. When the projection
   * was rebuilt since, its checkpoint went back and these records would leave a gap: false, and none of them is
   * applied after the reset (catch up from the store instead).
   */
  async handle(name: string, records: readonly RecordedEvent[], generation: number): Promise<boolean> {
    const projection = this.#get(name);
    await this.checkLog();
    await this.checkRules([name]);
    const types = this.#types.get(name);
    const own = types === undefined ? records : records.filter((r) => types.has(r.type));
    if (generation !== this.#generation(name)) return false;
    for (let i = 0; i < own.length; i += this.#batchSize) {
      const batch = own.slice(i, i + this.#batchSize);
      const events = this.#decodeShared(batch);
      if ((await this.#exclusive(name, () => this.#handleBatch(projection, batch, events, generation))) === false) return false;
    }
    return true;
  }

  #logChecked: Promise<readonly OtherLog[]> | undefined;

  /**
   * Once per runner, before it reads the store for its projections: each read model whose checkpoint names an event
   * the store does not hold (log-check.ts: an event store restored from an older backup, another fleet's events) is
   * reset and caught up from position 0, as a rebuild would. Returns what was found (empty when every read model
   * belongs to this log); the same answer to every later call. A failure (the store unreachable) is not kept.
   */
  checkLog(): Promise<readonly OtherLog[]> {
    if (this.#logChecked === undefined) {
      const checking = this.#resetReadModelsOfAnotherLog();
      this.#logChecked = checking;
      checking.catch(() => {
        if (this.#logChecked === checking) this.#logChecked = undefined;
      });
    }
    return this.#logChecked;
  }

  async #resetReadModelsOfAnotherLog(): Promise<readonly OtherLog[]> {
    const found = await checkpointsOfAnotherLog(this.#db, this.#store, this.names);
    for (const other of found) await this.#reset(this.#get(other.name), 'another-log');
    return found;
  }

  readonly #rulesChecks = new RulesChecks((projection, rules) => this.#checkRulesOf(projection, rules));

  /**
   * Once per projection and runner, before it is extended (catchUp, handle): each of `names` (default: all) whose
   * read model was built under other `rules` than its projection's, or before rules were kept, is rebuilt from
   * position 0 under its own or refused with ReadModelRulesChanged, as `onRulesChanged` says (rules.ts). Returns
   * the read models rebuilt.
   */
  checkRules(names: readonly string[] = this.names): Promise<readonly RulesChange[]> {
    return this.#rulesChecks.of(names.map((n) => this.#get(n)));
  }

  /**
   * Each of `names` (default: all) whose read model holds rows built under other rules than its projection's, nothing
   * written: what a rebuild of several asks before it empties any (`rebuild(name)` records its own rules, as asked).
   */
  rulesChanges(names: readonly string[] = this.names): RulesChange[] {
    return recordedRulesChanges(this.#db, names.map((n) => this.#get(n)));
  }

  async #checkRulesOf(projection: Projection, rules: ReadModelRules): Promise<RulesChange | undefined> {
    const change = await this.#exclusive(projection.name, () => writeLockOf(this.#db).run(() => rulesChangeOf(this.#db, projection.name, rules)));
    if (change === undefined) return undefined;
    if ((this.options.onRulesChanged ?? 'refuse') === 'refuse') throw new ReadModelRulesChanged(change);
    await this.#reset(projection, 'rebuild');
    return change;
  }

  /**
   * Processes every stored event past the checkpoint; resolves when the projection (every projection, without a
   * name) has reached the head. Returns how many events were handled, summed over the projections.
   */
  async catchUp(name?: string): Promise<number> {
    const projection = name === undefined ? undefined : this.#get(name);
    await this.checkLog();
    await this.checkRules(name === undefined ? this.names : [name]);
    if (projection !== undefined) return this.#catchUp.one(projection);
    return this.#catchUp.all([...this.#projections.values()]);
  }

  /** Catches up, then follows the store live until `stop()`. */
  async start(): Promise<void> {
    await this.catchUp();
    for (const projection of this.#projections.values()) {
      const after = await this.#resumeAfter(projection.name);
      const subscription = this.#store.subscribeToAll({
        from: after === undefined ? { kind: 'start' } : { kind: 'after', position: after },
        ...(projection.eventTypes !== undefined ? { filter: { eventTypes: projection.eventTypes } } : {}),
      });
      this.#live.set(projection.name, subscription);
      this.#running.set(projection.name, this.#follow(projection, subscription));
    }
  }

  async #follow(projection: Projection, subscription: StoreSubscription): Promise<void> {
    try {
      const generation = this.#generation(projection.name);
      for await (const record of subscription) {
        await this.#exclusive(projection.name, () => this.#handleBatch(projection, [record], [decodeOnce(record)], generation));
      }
    } catch (error) {
      this.options.onError?.(projection.name, error);
    }
  }

  async stop(): Promise<void> {
    for (const subscription of this.#live.values()) await subscription.unsubscribe();
    await Promise.all(this.#running.values());
    this.#live.clear();
    this.#running.clear();
  }

  /** Empties the projection's read model and replays it from position 0. */
  async rebuild(name: string): Promise<number> {
    const projection = this.#get(name);
    if (this.#live.has(name)) throw new Error(`stop the runner before rebuilding ${name}`);
    // Checked first: a read model of another log is reset as such, so its position is kept as no floor (pki).
    await this.checkLog();
    await this.#reset(projection, 'rebuild');
    return this.catchUp(name);
  }

  /** Empties the read model and its checkpoint. After any batch already queued: what was read before is dropped. */
  #reset(projection: Projection, cause: ResetCause): Promise<void> {
    const { name } = projection;
    return this.#exclusive(name, () =>
      writeLockOf(this.#db).run(() => {
        this.#generations.set(name, this.#generation(name) + 1);
        this.#db.transaction(() => {
          projection.reset(this.#db, cause);
          deleteCheckpoint(this.#db, name);
          // Emptied: what it holds from now on is built under the projection's own rules.
          if (projection.rules !== undefined) writeRules(this.#db, name, projection.rules);
        })();
      }),
    );
  }

  async lag(name: string, countLimit = 1_000_000): Promise<ProjectionLag> {
    return projectionLag(this.#db, this.#store, this.#get(name), countLimit);
  }
}
