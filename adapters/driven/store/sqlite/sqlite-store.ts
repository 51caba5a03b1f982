import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { openPrivateSqlite, openReadingConnection, preparePrivateDir } from '../../files/index.ts';
import { asDamagedDatabase, rememberDatabaseFile } from '../../files/damaged-database.ts';
import {
  type AppendOptions,
  type AppendResult,
  type EventStore,
  type EventToAppend,
  type KeyLookupOptions,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type SubscribeOptions,
} from '../../../../domain/ports/event-store.ts';
import { AppendNotifier } from './notifier.ts';
import { compileFilter, PageReader } from './pages.ts';
import { checkCertifiesKey, checkFingerprint } from '../certified-key-argument.ts';
import { checkClaimLimits } from '../append-arguments.ts';
import { checkEventsToAppend, checkExpectedRevision, checkFacts, checkId, MAX_TIMER_MS } from './arguments.ts';
import { AppendRows, type AppendRequest, type AppendWritten } from './append-rows.ts';
import { GroupCommitter } from './group-commit.ts';
import { storeClosed } from './commit-errors.ts';
import { StoreReads } from './reads.ts';
import { namedTwiceChecks, type NamedTwiceChecks } from './certified-keys.ts';
import { BackgroundCheckpointer, NO_CHECKPOINTS, type BackgroundCheckpointSettings, type CheckpointStats } from './checkpointer.ts';
import { DURABILITIES, prepareDatabase, setReadingPragmas, type Durability } from './schema.ts';
import { appendToReadOnlyStore, checkSchemaToRead, noEventStoreFile } from './read-only.ts';
import { SqliteSubscription } from './subscription.ts';

export type SqliteStoreLocation = { readonly file: string } | { readonly memory: true };

export interface SqliteStoreSettings {
  /** Rows read per page by readAll and subscriptions; bounds their memory. Default 1000. */
  readonly pageSize?: number;
  /** Positions one page of a stream-prefix filter examines at most (pages.ts). Default 65,536. */
  readonly prefixScanWindow?: number;
  /** How often an idle subscription looks for appends made through another connection. Default 200 ms. */
  readonly pollIntervalMs?: number;
  /** How long a write waits for another connection's write lock before failing. Default 5000 ms. */
  readonly busyTimeoutMs?: number;
  /** `full` (default): an append is acknowledged once synced to disk; `normal`: once written to the OS. See schema.ts. */
  readonly durability?: Durability;
  /**
   * Most appends committed in one group (one transaction, one sync). Default 4,096: a batch writer (a rotation tick)
   * with that many appends in flight writes each random-key index page once per group, not once per 512 appends.
   */
  readonly maxGroupSize?: number;
  /**
   * A file store checkpoints its WAL from a thread of its own, off the commit path (checkpointer.ts); `false` leaves
   * it to SQLite's automatic checkpoint inside the commits. Default: on, started once 1,024 appends were committed.
   */
  readonly backgroundCheckpoints?: BackgroundCheckpointSettings | false;
  /**
   * Opened to read only, writing nothing to the file (read-only.ts): its schema checked, not made or upgraded (a file
   * without this layout is refused, typed); `query_only` from the start, no background checkpoints, and an append
   * refused. `openSqliteStore` opens the file on a reading connection then (files/reading-connection.ts), which
   * leaves no -wal or -shm of its own and never checkpoints one it found.
   */
  readonly readOnly?: boolean;
  /**
   * Test hook: runs inside the append's savepoint in its group transaction, after the inserts, before commit.
   * Throwing here rolls the whole append back (and only it), which is how tests prove atomicity.
   */
  readonly beforeCommit?: (streamId: string, events: readonly RecordedEvent[]) => void;
}

export type SqliteStoreOptions = SqliteStoreLocation & SqliteStoreSettings;

/** The most appends committed in one group when `maxGroupSize` is not given. */
export const DEFAULT_MAX_GROUP_SIZE = 4096;

/** The embedded event store: one SQLite file (or memory), WAL, one global order. */
export class SqliteEventStore implements EventStore {
  private readonly pages: PageReader;
  private readonly notifier = new AppendNotifier();
  private readonly subscriptions = new Set<SqliteSubscription>();
  private readonly pageSize: number;
  private readonly pollIntervalMs: number;
  private readonly beforeCommit: SqliteStoreSettings['beforeCommit'];
  private closed = false;
  /**
   * The file of a store opened read-only (`readOnly`), for its refusal of an append; undefined when it writes. A
   * property, not a #field: a store wrapped by Object.create (tests counting its reads) calls append on the wrapper.
   */
  private readonly readOnlyFile: string | undefined;
  #closing: Promise<void> | undefined;
  private readonly reads: StoreReads;
  private readonly namedTwice: NamedTwiceChecks;
  private readonly group: GroupCommitter<AppendWritten>;
  private readonly rows: AppendRows;
  /**
   * Group commit counters since open: groups committed, appends in them, the largest group, ms spent committing
   * (checks, inserts, the COMMIT) and ms of that in the COMMIT statement itself (writing the WAL, its sync, any
   * checkpoint).
   */
  readonly groupStats = { groups: 0, appends: 0, largestGroup: 0, commitMs: 0, syncMs: 0 };
  readonly durability: Durability;
  readonly #checkpointer: BackgroundCheckpointer | undefined;
  /** The background checkpoints (file stores): whether the thread runs, checkpoints made, frames copied. */
  readonly checkpointStats: Readonly<CheckpointStats>;
  /** Facts are checked in the append's transaction (append-rows.ts); nothing is written to a fact stream. */
  readonly factChecksWriteNothing = true;

  constructor(
    private readonly db: Database.Database,
    settings: SqliteStoreSettings = {},
  ) {
    this.pageSize = settings.pageSize ?? 1000;
    if (!Number.isSafeInteger(this.pageSize) || this.pageSize < 1) throw new Error('options.pageSize: must be >= 1');
    this.pollIntervalMs = settings.pollIntervalMs ?? 200;
    // setTimeout waits 1 ms for a delay that is not a number, below 1 or past 2^31 - 1: subscriptions would poll
    // nonstop.
    if (typeof this.pollIntervalMs !== 'number' || !(this.pollIntervalMs >= 1 && this.pollIntervalMs <= MAX_TIMER_MS)) {
      throw new Error(`options.pollIntervalMs: must be a number of ms from 1 to ${MAX_TIMER_MS}`);
    }
    this.beforeCommit = settings.beforeCommit;
    this.durability = settings.durability ?? 'full';
    if (!DURABILITIES.includes(this.durability)) throw new Error(`options.durability: must be one of ${DURABILITIES.join(', ')}`);
    const maxGroupSize = settings.maxGroupSize ?? DEFAULT_MAX_GROUP_SIZE;
    if (!Number.isSafeInteger(maxGroupSize) || maxGroupSize < 1) throw new Error('options.maxGroupSize: must be >= 1');
    // Positions and revisions exceed 2^53 on EventStoreDB; keep them bigint here too.
    db.defaultSafeIntegers(true);
    const busyTimeoutMs = settings.busyTimeoutMs ?? 5000;
    // Written into a PRAGMA: a value that is not a whole number of ms would reach SQLite as NaN or be cut silently.
    if (!Number.isSafeInteger(busyTimeoutMs) || busyTimeoutMs < 0 || busyTimeoutMs > MAX_TIMER_MS) {
      throw new Error(`options.busyTimeoutMs: must be a whole number of ms from 0 to ${MAX_TIMER_MS}`);
    }
    this.readOnlyFile = settings.readOnly === true ? db.name : undefined;
    if (this.readOnlyFile === undefined) {
      prepareDatabase(db, { busyTimeoutMs, durability: this.durability });
    } else {
      // Before any statement: SQLite then refuses every write, whatever the code after it does.
      db.pragma('query_only = ON');
      setReadingPragmas(db, busyTimeoutMs);
      checkSchemaToRead(db, this.readOnlyFile);
    }
    const file = db.memory ? undefined : db.name;
    this.#checkpointer =
      settings.backgroundCheckpoints === false || this.readOnlyFile !== undefined || file === undefined || !isPlainPath(file)
        ? undefined
        : new BackgroundCheckpointer(resolve(file), this.durability, (pages) => db.pragma(`wal_autocheckpoint = ${pages}`), settings.backgroundCheckpoints);
    this.checkpointStats = this.#checkpointer?.stats ?? NO_CHECKPOINTS;
    const onCommitted = (stored: readonly AppendWritten[]) => {
      if (stored.some((written) => !written.result.deduplicated)) this.notifier.notify();
      this.#checkpointer?.committed(stored.length);
    };
    this.group = new GroupCommitter<AppendWritten>(db, maxGroupSize, onCommitted, this.groupStats);
    this.rows = new AppendRows(db);
    this.pages = new PageReader(db, settings.prefixScanWindow);
    this.reads = new StoreReads(db, this.pages, this.pageSize, () => this.assertOpen());
    this.namedTwice = namedTwiceChecks(db);
  }

  async appendToStream(
    streamId: string,
    events: readonly EventToAppend[],
    options: AppendOptions,
  ): Promise<AppendResult> {
    this.assertOpen();
    if (this.readOnlyFile !== undefined) throw appendToReadOnlyStore(this.readOnlyFile);
    checkEventsToAppend(streamId, events);
    checkFacts(streamId, options.facts);
    checkExpectedRevision(options.expectedRevision);
    const commandId = options.commandId;
    if (commandId !== undefined) checkId(commandId, 'options.commandId');
    const certifiesKey = checkCertifiesKey(options.certifiesKey);
    // As EventStoreDB refuses them: ids longer than its fact and key claims hold (review 421).
    checkClaimLimits(streamId, options);
    // Serialised now, not when the group commits: what is stored is what the caller passed, even if it changes the
    // objects afterwards.
    const request: AppendRequest = {
      streamId,
      events: events.map((event) => ({ id: event.id, type: event.type, data: JSON.stringify(event.data), metadata: JSON.stringify(event.metadata) })),
      expected: options.expectedRevision,
      commandId,
      facts: [...(options.facts ?? [])],
      certifiesKey,
    };
    // Committed with the other appends of this turn of the event loop (group-commit.ts), in a savepoint of its own,
    // inside a BEGIN IMMEDIATE transaction: the write lock is held from the checks to the commit, so the revisions
    // checked cannot move before the insert, even when another connection writes to the same file.
    // A one-event append without the test hook writes nothing before its event row, and the command row after it
    // cannot fail but by an I/O error (which ends the whole group): it needs no savepoint of its own.
    const savepoint = events.length > 1 || this.beforeCommit !== undefined;
    const copies = this.beforeCommit === undefined ? [] : events.map((event) => ({ ...event }));
    // The request names its stream and facts: its place in the group's commit order (commit-order.ts).
    const written = await this.group.submit(() => {
      const appended = this.rows.append(request);
      const hook = this.beforeCommit;
      if (hook !== undefined && !appended.result.deduplicated) {
        hook(streamId, copies.map((event, i): RecordedEvent => ({ ...event, streamId, revision: appended.firstRevision + BigInt(i), position: appended.positions[i]! })));
      }
      return appended;
    }, savepoint, request);
    return written.result;
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<readonly RecordedEvent[]> {
    return this.reads.readStream(streamId, options);
  }

  async readStreams(streamIds: readonly string[]): Promise<ReadonlyMap<string, readonly RecordedEvent[]>> {
    return this.reads.readStreams(streamIds);
  }

  async readCommand(streamId: string, commandId: string): Promise<readonly RecordedEvent[]> {
    return this.reads.readCommand(streamId, commandId);
  }

  async commandStream(commandId: string): Promise<string | undefined> {
    return this.reads.commandStream(commandId);
  }

  /**
   * A decision's read refuses while any CredentialIssued row has a member SQLite reads as "fingerprint" twice; a read
   * path's (`readOnly`: entity replay, history, state) only when such a row names this key, so that one edited row
   * leaves every other entity's history answered, as the fleet replay answers it (review 325, certified-keys.ts).
   */
  async keyCertifiedBy(fingerprint: string, options?: KeyLookupOptions): Promise<string | undefined> {
    const holder = this.reads.keyCertifiedBy(checkFingerprint(fingerprint, 'fingerprint'));
    if (options?.readOnly === true) this.namedTwice.of(fingerprint);
    else this.namedTwice.every();
    return holder;
  }

  /** Asked by replay only (a read path): refuses as `keyCertifiedBy` with `readOnly`. */
  async keyIssuers(fingerprint: string): Promise<readonly string[]> {
    const issuers = this.reads.keyIssuers(checkFingerprint(fingerprint, 'fingerprint'));
    this.namedTwice.of(fingerprint);
    return issuers;
  }

  /** Rows are never removed (AUTOINCREMENT positions): a position below the head with no row is another log's. */
  readonly gapless = true;

  async recordAt(position: bigint): Promise<RecordedEvent | undefined> {
    return this.reads.recordAt(position);
  }

  readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    const pages = this.readAllPagesSync(options);
    return {
      // Each iteration starts afresh, like a new read request.
      async *[Symbol.asyncIterator]() {
        for (const page of pages) yield* page;
      },
    };
  }

  /** readAll's pages as they are read (at most `pageSize` records each): one code path, so the same records and errors. */
  readAllPagesSync(options: ReadAllOptions = {}): Iterable<readonly RecordedEvent[]> {
    return this.reads.readAllPagesSync(options);
  }

  subscribeToAll(options: SubscribeOptions): SqliteSubscription {
    this.assertOpen();
    const filter = compileFilter(options.filter, 'options.filter');
    const pageBytes = options.pageBytes;
    if (pageBytes !== undefined && (!Number.isSafeInteger(pageBytes) || pageBytes < 1)) {
      throw new Error('options.pageBytes: must be a whole number >= 1, or omitted');
    }
    // `end` is fixed now, not at the first next(): an append made right after subscribing must be delivered.
    const subscription = new SqliteSubscription(
      {
        // Without pageBytes, pages by count alone, read at once (the projections' and the live runtime's pace).
        readPage: (after) => this.pages.read(after, filter, this.pageSize, pageBytes),
        notifier: this.notifier,
        pollIntervalMs: this.pollIntervalMs,
        onEnd: (s) => this.subscriptions.delete(s),
      },
      this.reads.startPosition(options.from),
    );
    this.subscriptions.add(subscription);
    return subscription;
  }

  async headPosition(): Promise<bigint | undefined> {
    this.assertOpen();
    return this.pages.headPosition();
  }

  /** Every call, the first or a later one, resolves once the connection is closed (and the WAL removed). */
  close(): Promise<void> {
    // The checkpointer thread is waited for: a second close returning at once would let its caller (a shutdown, the
    // folder lock's release) go on while the connection is still open and the WAL still on disk.
    return (this.#closing ??= this.#close());
  }

  async #close(): Promise<void> {
    // Appends already accepted are committed (and acknowledged) before the connection goes; none is accepted after.
    this.closed = true;
    this.group.drain();
    for (const subscription of [...this.subscriptions]) subscription.end();
    // The checkpointer's connection first: the store's is then the last one, whose close checkpoints and removes the
    // WAL.
    await this.#checkpointer?.close();
    this.db.close();
  }

  private assertOpen(): void {
    if (this.closed) throw storeClosed();
  }
}

export function openSqliteStore(options: SqliteStoreOptions): SqliteEventStore {
  if ('file' in options && (typeof options.file !== 'string' || options.file.length === 0)) {
    throw new Error('options.file: must be a non-empty path');
  }
  const file = 'file' in options && isPlainPath(options.file) ? options.file : undefined;
  if (options.readOnly === true) {
    if (file === undefined) throw new Error('options.readOnly: needs the path of an existing file');
    return openSqliteStoreToRead(file, options);
  }
  // A file through the data folder's opener (its folder private, a -wal left without the file refused, the file 0600
  // before SQLite makes its -wal/-shm); memory, a `file:` URI or SQLite's temporary name is no data folder's file.
  const db =
    file === undefined
      ? new Database('file' in options ? options.file : ':memory:')
      : openPrivateSqlite({ dir: dirname(file) }, { file: basename(file), synchronous: options.durability === 'normal' ? 'NORMAL' : 'FULL' });
  try {
    return new SqliteEventStore(db, options);
  } catch (error) {
    db.close();
    // A file SQLite finds damaged is named, with what mends it (a backup), rather than its bare "malformed".
    throw file === undefined ? error : asDamagedDatabase(file, error);
  }
}

/**
 * The store of `file` opened read-only (`readOnly`), on the folder's reading connection (files/reading-connection.ts:
 * read-only where a -wal, -shm or -journal is there already, whose writable close would checkpoint or roll it back;
 * otherwise `query_only`, its close removing only the -wal and -shm it made). A file SQLite finds damaged is named.
 */
function openSqliteStoreToRead(file: string, settings: SqliteStoreSettings): SqliteEventStore {
  let db: Database.Database;
  try {
    db = openReadingConnection(file);
    rememberDatabaseFile(file);
  } catch (error) {
    throw asDamagedDatabase(file, error);
  }
  try {
    return new SqliteEventStore(db, { ...settings, readOnly: true });
  } catch (error) {
    db.close();
    throw asDamagedDatabase(file, error);
  }
}

/** A path SQLite opens as a file: not ':memory:', not a `file:` URI, not the empty (temporary) name. */
const isPlainPath = (file: string): boolean => file !== ':memory:' && file !== '' && !file.startsWith('file:');

/**
 * Opens `<dataDir>/events.db`, creating the folder (0700) when needed; refuses a folder others may write to. Read-only
 * (`readOnly`), a folder without the file is refused (typed), never made.
 */
export function openSqliteStoreInDir(dataDir: string, settings: SqliteStoreSettings = {}): SqliteEventStore {
  if (typeof dataDir !== 'string' || dataDir.length === 0) throw new Error('dataDir: must be a non-empty string');
  const file = join(dataDir, 'events.db');
  if (settings.readOnly === true && !existsSync(file)) throw noEventStoreFile(file);
  preparePrivateDir(dataDir);
  return openSqliteStore({ ...settings, file });
}
