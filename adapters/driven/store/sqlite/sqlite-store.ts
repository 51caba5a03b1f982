import { join } from 'node:path';
import Database from 'better-sqlite3';
import { preparePrivateDatabaseFile, preparePrivateDir } from '../../files/index.ts';
import {
  ExpectedRevision,
  type AppendOptions,
  type AppendResult,
  type EventStore,
  type EventToAppend,
  type FactRead,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type SubscribeOptions,
  type SubscriptionStart,
} from '../../../../domain/ports/event-store.ts';
import { AppendNotifier } from './notifier.ts';
import { compileFilter, PageReader } from './pages.ts';
import { checkCount, checkEventsToAppend, checkFacts, checkPosition } from './arguments.ts';
import { conflictFor, meets } from './expected-revision.ts';
import { EVENT_COLUMNS, toRecordedEvent } from './rows.ts';
import { GroupCommitter } from './group-commit.ts';
import { DURABILITIES, prepareDatabase, type Durability } from './schema.ts';
import { SqliteSubscription } from './subscription.ts';

export type SqliteStoreLocation = { readonly file: string } | { readonly memory: true };

export interface SqliteStoreSettings {
  /** Rows read per page by readAll and subscriptions; bounds their memory. Default 1000. */
  readonly pageSize?: number;
  /** How often an idle subscription looks for appends made through another connection. Default 200 ms. */
  readonly pollIntervalMs?: number;
  /** How long a write waits for another connection's write lock before failing. Default 5000 ms. */
  readonly busyTimeoutMs?: number;
  /** `full` (default): an append is acknowledged once synced to disk; `normal`: once written to the OS. See schema.ts. */
  readonly durability?: Durability;
  /** Most appends committed in one group (one transaction, one sync). Default 512. */
  readonly maxGroupSize?: number;
  /**
   * Test hook: runs inside the append's savepoint in its group transaction, after the inserts, before commit.
   * Throwing here rolls the whole append back (and only it), which is how tests prove atomicity.
   */
  readonly beforeCommit?: (streamId: string, events: readonly RecordedEvent[]) => void;
}

export type SqliteStoreOptions = SqliteStoreLocation & SqliteStoreSettings;

/** An event to append with its data and metadata already serialised (when the append was accepted). */
interface SerialisedEvent {
  readonly event: EventToAppend;
  readonly id: string;
  readonly type: string;
  readonly data: string;
  readonly metadata: string;
}

interface CommandRow {
  last_position: bigint;
  last_revision: bigint;
}

/** The embedded event store: one SQLite file (or memory), WAL, one global order. */
export class SqliteEventStore implements EventStore {
  private readonly pages: PageReader;
  private readonly notifier = new AppendNotifier();
  private readonly subscriptions = new Set<SqliteSubscription>();
  private readonly pageSize: number;
  private readonly pollIntervalMs: number;
  private readonly beforeCommit: SqliteStoreSettings['beforeCommit'];
  private closed = false;
  private readonly sql;
  private readonly group: GroupCommitter<AppendResult>;
  /** Group commit counters since open: groups committed, appends in them, the largest group, ms spent committing. */
  readonly groupStats = { groups: 0, appends: 0, largestGroup: 0, commitMs: 0 };
  readonly durability: Durability;

  constructor(
    private readonly db: Database.Database,
    settings: SqliteStoreSettings = {},
  ) {
    this.pageSize = settings.pageSize ?? 1000;
    if (!Number.isSafeInteger(this.pageSize) || this.pageSize < 1) throw new Error('options.pageSize: must be >= 1');
    this.pollIntervalMs = settings.pollIntervalMs ?? 200;
    this.beforeCommit = settings.beforeCommit;
    this.durability = settings.durability ?? 'full';
    if (!DURABILITIES.includes(this.durability)) throw new Error(`options.durability: must be one of ${DURABILITIES.join(', ')}`);
    const maxGroupSize = settings.maxGroupSize ?? 512;
    if (!Number.isSafeInteger(maxGroupSize) || maxGroupSize < 1) throw new Error('options.maxGroupSize: must be >= 1');
    // Positions and revisions exceed 2^53 on EventStoreDB; keep them bigint here too.
    db.defaultSafeIntegers(true);
    prepareDatabase(db, { busyTimeoutMs: settings.busyTimeoutMs ?? 5000, durability: this.durability });
    this.group = new GroupCommitter<AppendResult>(
      db,
      maxGroupSize,
      (stored) => {
        if (stored.some((result) => !result.deduplicated)) this.notifier.notify();
      },
      this.groupStats,
    );
    this.pages = new PageReader(db);
    this.sql = {
      streamHead: db.prepare('SELECT MAX(revision) AS revision FROM events WHERE stream_id = ?'),
      command: db.prepare('SELECT last_position, last_revision FROM commands WHERE command_id = ?'),
      insertEvent: db.prepare(
        'INSERT INTO events (stream_id, revision, event_id, type, data, metadata, command_id) ' +
          'VALUES (@streamId, @revision, @id, @type, @data, @metadata, @commandId) RETURNING position',
      ),
      insertCommand: db.prepare(
        'INSERT INTO commands (command_id, stream_id, first_position, last_position, last_revision) VALUES (?, ?, ?, ?, ?)',
      ),
      readStream: db.prepare(
        `SELECT ${EVENT_COLUMNS} FROM events WHERE stream_id = ? AND revision >= ? ORDER BY revision LIMIT ?`,
      ),
      // One append's events are inserted one after the other in its transaction: the command row's positions bound
      // them, and the primary key walks just that range.
      readCommand: db.prepare(
        `SELECT ${EVENT_COLUMNS} FROM events WHERE stream_id = @streamId AND command_id = @commandId AND position BETWEEN ` +
          '(SELECT first_position FROM commands WHERE command_id = @commandId AND stream_id = @streamId) AND ' +
          '(SELECT last_position FROM commands WHERE command_id = @commandId AND stream_id = @streamId) ORDER BY revision',
      ),
    };
  }

  async appendToStream(
    streamId: string,
    events: readonly EventToAppend[],
    options: AppendOptions,
  ): Promise<AppendResult> {
    this.assertOpen();
    checkEventsToAppend(streamId, events);
    checkFacts(streamId, options.facts);
    const commandId = options.commandId;
    if (commandId !== undefined && (typeof commandId !== 'string' || commandId.length === 0)) {
      throw new Error('options.commandId: must be a non-empty string when given');
    }
    const { expectedRevision } = options;
    const facts = [...(options.facts ?? [])];
    // Serialised now, not when the group commits: what is stored is what the caller passed, even if it changes the
    // objects afterwards.
    const serialised = events.map((event): SerialisedEvent => ({
      event: { ...event },
      id: event.id,
      type: event.type,
      data: JSON.stringify(event.data),
      metadata: JSON.stringify(event.metadata),
    }));
    // Committed with the other appends of this turn of the event loop (group-commit.ts), in a savepoint of its own,
    // inside a BEGIN IMMEDIATE transaction: the write lock is held from the checks to the commit, so the revisions
    // checked cannot move before the insert, even when another connection writes to the same file.
    // A one-event append without the test hook writes nothing before its event row, and the command row after it
    // cannot fail but by an I/O error (which ends the whole group): it needs no savepoint of its own.
    const savepoint = events.length > 1 || this.beforeCommit !== undefined;
    return this.group.submit(() => this.appendInTransaction(streamId, serialised, expectedRevision, commandId, facts), savepoint);
  }

  private appendInTransaction(
    streamId: string,
    events: readonly SerialisedEvent[],
    expected: ExpectedRevision,
    commandId: string | undefined,
    facts: readonly FactRead[],
  ): AppendResult {
    // Idempotency comes before the expectation: a retried command finds its stream moved on by its own first
    // attempt and must get that attempt's result, not a conflict.
    if (commandId !== undefined) {
      const seen = this.sql.command.get(commandId) as CommandRow | undefined;
      if (seen !== undefined) {
        return { nextExpectedRevision: seen.last_revision, position: seen.last_position, deduplicated: true };
      }
    }
    const actual = (this.sql.streamHead.get(streamId) as { revision: bigint | null }).revision ?? undefined;
    if (!meets(expected, actual)) {
      throw conflictFor(streamId, expected, actual);
    }
    // Inside the IMMEDIATE transaction no other writer can move a fact stream between this check and the commit.
    for (const fact of facts) {
      const head = (this.sql.streamHead.get(fact.streamId) as { revision: bigint | null }).revision ?? undefined;
      if (head !== fact.revision) throw conflictFor(fact.streamId, ExpectedRevision.after(fact.revision), head);
    }
    const first = actual === undefined ? 0n : actual + 1n;
    const recorded = events.map((serialised, i): RecordedEvent => {
      const revision = first + BigInt(i);
      const row = this.insert(streamId, revision, serialised, commandId, i);
      return { ...serialised.event, streamId, revision, position: row.position };
    });
    const firstEvent = recorded[0];
    const lastEvent = recorded.at(-1);
    if (firstEvent === undefined || lastEvent === undefined) throw new Error('events: must be a non-empty array');
    if (commandId !== undefined) {
      this.sql.insertCommand.run(commandId, streamId, firstEvent.position, lastEvent.position, lastEvent.revision);
    }
    this.beforeCommit?.(streamId, recorded);
    return { nextExpectedRevision: lastEvent.revision, position: lastEvent.position, deduplicated: false };
  }

  private insert(
    streamId: string,
    revision: bigint,
    { id, type, data, metadata }: SerialisedEvent,
    commandId: string | undefined,
    index: number,
  ): { position: bigint } {
    try {
      return this.sql.insertEvent.get({
        streamId,
        revision,
        id,
        type,
        data,
        metadata,
        commandId: commandId ?? null,
      }) as { position: bigint };
    } catch (error) {
      if (error instanceof Database.SqliteError && /events\.event_id/.test(error.message)) {
        throw new Error(`events[${index}].id: event id ${id} is already stored`);
      }
      throw error;
    }
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<readonly RecordedEvent[]> {
    this.assertOpen();
    const from = options.fromRevision === undefined ? 0n : checkPosition(options.fromRevision, 'options.fromRevision');
    const max = checkCount(options.maxCount, 'options.maxCount');
    const limit = max === Number.POSITIVE_INFINITY ? -1 : max;
    return this.sql.readStream.all(streamId, from, limit).map(toRecordedEvent);
  }

  async readCommand(streamId: string, commandId: string): Promise<readonly RecordedEvent[]> {
    this.assertOpen();
    if (typeof streamId !== 'string' || streamId.length === 0) throw new Error('streamId: must be a non-empty string');
    if (typeof commandId !== 'string' || commandId.length === 0) throw new Error('commandId: must be a non-empty string');
    return this.sql.readCommand.all({ streamId, commandId }).map(toRecordedEvent);
  }

  readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    const after =
      options.afterPosition === undefined ? 0n : checkPosition(options.afterPosition, 'options.afterPosition');
    const filter = compileFilter(options.filter, 'options.filter');
    const maxCount = checkCount(options.maxCount, 'options.maxCount');
    const store = this;
    return {
      // Each iteration starts afresh, like a new read request.
      async *[Symbol.asyncIterator]() {
        let cursor = after;
        let remaining = maxCount;
        while (remaining > 0) {
          store.assertOpen();
          const limit = Math.min(store.pageSize, remaining);
          const page = store.pages.read(cursor, filter, limit);
          cursor = page.cursor;
          remaining -= page.events.length;
          yield* page.events;
          if (page.events.length < limit) return;
        }
      },
    };
  }

  subscribeToAll(options: SubscribeOptions): SqliteSubscription {
    this.assertOpen();
    const filter = compileFilter(options.filter, 'options.filter');
    // `end` is fixed now, not at the first next(): an append made right after subscribing must be delivered.
    const subscription = new SqliteSubscription(
      {
        readPage: (after) => this.pages.read(after, filter, this.pageSize),
        notifier: this.notifier,
        pollIntervalMs: this.pollIntervalMs,
        onEnd: (s) => this.subscriptions.delete(s),
      },
      this.startPosition(options.from),
    );
    this.subscriptions.add(subscription);
    return subscription;
  }

  private startPosition(from: SubscriptionStart): bigint {
    switch (from.kind) {
      case 'start':
        return 0n;
      case 'end':
        return this.pages.headPosition() ?? 0n;
      case 'after':
        return checkPosition(from.position, 'options.from.position');
      default: {
        const never: never = from;
        throw new Error(`options.from: unknown kind ${JSON.stringify(never)}`);
      }
    }
  }

  async headPosition(): Promise<bigint | undefined> {
    this.assertOpen();
    return this.pages.headPosition();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Appends already accepted are committed (and acknowledged) before the connection goes.
    this.group.flush();
    this.closed = true;
    for (const subscription of [...this.subscriptions]) subscription.end();
    this.db.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('SqliteEventStore: the store is closed');
  }
}

export function openSqliteStore(options: SqliteStoreOptions): SqliteEventStore {
  if ('file' in options && (typeof options.file !== 'string' || options.file.length === 0)) {
    throw new Error('options.file: must be a non-empty path');
  }
  // A file is created 0600 before SQLite opens it, so events.db and its -wal/-shm are never readable by others.
  if ('file' in options && isPlainPath(options.file)) preparePrivateDatabaseFile(options.file);
  const db = new Database('file' in options ? options.file : ':memory:');
  try {
    return new SqliteEventStore(db, options);
  } catch (error) {
    db.close();
    throw error;
  }
}

/** A path SQLite opens as a file: not ':memory:', not a `file:` URI, not the empty (temporary) name. */
const isPlainPath = (file: string): boolean => file !== ':memory:' && file !== '' && !file.startsWith('file:');

/** Opens `<dataDir>/events.db`, creating the folder (0700) when needed; refuses a folder others may write to. */
export function openSqliteStoreInDir(dataDir: string, settings: SqliteStoreSettings = {}): SqliteEventStore {
  if (typeof dataDir !== 'string' || dataDir.length === 0) throw new Error('dataDir: must be a non-empty string');
  preparePrivateDir(dataDir);
  return openSqliteStore({ ...settings, file: join(dataDir, 'events.db') });
}
