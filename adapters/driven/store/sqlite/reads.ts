import type Database from 'better-sqlite3';
import type { ReadAllOptions, ReadStreamOptions, RecordedEvent, SubscriptionStart } from '../../../../domain/ports/event-store.ts';
import { checkCount, checkId, checkPosition, checkStreamIds } from './arguments.ts';
import { compileFilter, type PageReader } from './pages.ts';
import { certifiedKeyReader, keyIssuersReader } from './certified-keys.ts';
import { EVENT_COLUMNS, recordedEventOfRaw } from './rows.ts';

/**
 * The embedded store's reads (sqlite-store.ts): of streams, of one command's events, of one position, of the log in
 * pages, and where a subscription starts. Each checks its arguments and that the store is open (`assertOpen`).
 */
export class StoreReads {
  private readonly sql;
  private readonly certifiedBy: (fingerprint: string) => string | undefined;
  private readonly issuers: (fingerprint: string) => readonly string[];

  constructor(
    db: Database.Database,
    private readonly pages: PageReader,
    private readonly pageSize: number,
    private readonly assertOpen: () => void,
  ) {
    this.certifiedBy = certifiedKeyReader(db);
    this.issuers = keyIssuersReader(db);
    this.sql = {
      // Rows as arrays, checked by recordedEventOfRaw: a decision's catch-up read pays its JSON.parse, not a zod
      // pipeline per row (rows.ts; a malformed row still fails with the zod error naming its column).
      readStream: db.prepare(
        `SELECT ${EVENT_COLUMNS} FROM events WHERE stream_id = ? AND revision >= ? ORDER BY revision LIMIT ?`,
      ).raw(true),
      // Without LIMIT for the common read (a catch-up from a revision): a bound LIMIT made SQLite's empty read cost
      // three to five times as much (measured 13-27 µs against 4 µs), and every decision catches up its facts.
      readStreamToEnd: db.prepare(`SELECT ${EVENT_COLUMNS} FROM events WHERE stream_id = ? AND revision >= ? ORDER BY revision`).raw(true),
      // The list is bound as one JSON array: one statement for any number of streams, each looked up in the
      // (stream_id, revision) index, its rows in revision order.
      readStreams: db.prepare(
        `SELECT ${EVENT_COLUMNS} FROM events WHERE stream_id IN (SELECT value FROM json_each(?)) ORDER BY stream_id, revision`,
      ).raw(true),
      // One append's events are inserted one after the other in its transaction: the command row's positions bound
      // them, and the primary key walks just that range.
      readCommand: db.prepare(
        `SELECT ${EVENT_COLUMNS} FROM events WHERE stream_id = @streamId AND command_id = @commandId AND position BETWEEN ` +
          '(SELECT first_position FROM commands WHERE command_id = @commandId AND stream_id = @streamId) AND ' +
          '(SELECT last_position FROM commands WHERE command_id = @commandId AND stream_id = @streamId) ORDER BY revision',
      ).raw(true),
      recordAt: db.prepare(`SELECT ${EVENT_COLUMNS} FROM events WHERE position = ?`).raw(true),
      commandStream: db.prepare('SELECT stream_id FROM commands WHERE command_id = ?').pluck(),
    };
  }

  readStream(streamId: string, options: ReadStreamOptions): readonly RecordedEvent[] {
    this.assertOpen();
    checkId(streamId, 'streamId');
    const from = options.fromRevision === undefined ? 0n : checkPosition(options.fromRevision, 'options.fromRevision');
    const max = checkCount(options.maxCount, 'options.maxCount');
    const rows = max === Number.POSITIVE_INFINITY ? this.sql.readStreamToEnd.all(streamId, from) : this.sql.readStream.all(streamId, from, max);
    return (rows as unknown[][]).map(recordedEventOfRaw);
  }

  readStreams(streamIds: readonly string[]): ReadonlyMap<string, readonly RecordedEvent[]> {
    this.assertOpen();
    const distinct = checkStreamIds(streamIds);
    const streams = new Map<string, RecordedEvent[]>();
    for (const streamId of distinct) streams.set(streamId, []);
    if (distinct.length === 0) return streams;
    for (const row of this.sql.readStreams.iterate(JSON.stringify(distinct))) {
      const event = recordedEventOfRaw(row as unknown[]);
      streams.get(event.streamId)!.push(event);
    }
    return streams;
  }

  readCommand(streamId: string, commandId: string): readonly RecordedEvent[] {
    this.assertOpen();
    checkId(streamId, 'streamId');
    checkId(commandId, 'commandId');
    return (this.sql.readCommand.all({ streamId, commandId }) as unknown[][]).map(recordedEventOfRaw);
  }

  /** The stream whose CredentialIssued certified this key (SER-010), undefined when none did. */
  keyCertifiedBy(fingerprint: string): string | undefined {
    this.assertOpen();
    return this.certifiedBy(fingerprint);
  }

  /** Every stream whose CredentialIssued carries this key, in log order (SER-010, replay). */
  keyIssuers(fingerprint: string): readonly string[] {
    this.assertOpen();
    return this.issuers(fingerprint);
  }

  commandStream(commandId: string): string | undefined {
    this.assertOpen();
    checkId(commandId, 'commandId');
    return (this.sql.commandStream.get(commandId) as string | undefined) ?? undefined;
  }

  recordAt(position: bigint): RecordedEvent | undefined {
    this.assertOpen();
    const row = this.sql.recordAt.get(checkPosition(position, 'position')) as unknown[] | undefined;
    return row === undefined ? undefined : recordedEventOfRaw(row);
  }

  readAllPagesSync(options: ReadAllOptions): Iterable<readonly RecordedEvent[]> {
    // Arguments are checked at the call, as readAll's are; the closed store at the first page.
    const after =
      options.afterPosition === undefined ? 0n : checkPosition(options.afterPosition, 'options.afterPosition');
    const filter = compileFilter(options.filter, 'options.filter');
    const maxCount = checkCount(options.maxCount, 'options.maxCount');
    const reads = this;
    return {
      *[Symbol.iterator]() {
        let cursor = after;
        let remaining = maxCount;
        while (remaining > 0) {
          reads.assertOpen();
          const limit = Math.min(reads.pageSize, remaining);
          const page = reads.pages.read(cursor, filter, limit);
          cursor = page.cursor;
          remaining -= page.events.length;
          if (page.events.length > 0) yield page.events;
          if (page.events.length < limit && page.atHead) return;
        }
      },
    };
  }

  /** The position a subscription from `from` starts after. */
  startPosition(from: SubscriptionStart): bigint {
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
}
