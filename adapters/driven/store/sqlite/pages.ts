import type Database from 'better-sqlite3';
import type { AllFilter, RecordedEvent } from '../../../../domain/ports/event-store.ts';
import { EVENT_COLUMNS, recordedEventOfRaw } from './rows.ts';

/** One page of $all and where the next page starts (exclusive). */
export interface Page {
  readonly events: readonly RecordedEvent[];
  readonly cursor: bigint;
  /** The cursor is the head the page was read against: nothing more matches now. */
  readonly atHead: boolean;
}

/**
 * Prefix checks one page of a stream-prefix filter makes at most, with or without event types: the positions a page
 * examines, divided among its prefixes (one prefix: 65,536 positions; the SSE route's 100 stream ids: 655). SER-001:
 * the embedded store reads a page synchronously, so a page's statement holds the event loop of the whole service.
 *
 * Every prefix is tried on each entry walked, and a sparse filter rejects nearly all of them: a page that ran until it
 * had a page of matches or reached the head read the whole log in one statement (`association-` among node events:
 * 136 ms at 400,000 events; found in review). With types it walked every index entry of those types from the cursor
 * to the head instead (`stream=<100 ids>&type=NodeRegistered` over 200,000 NodeRegistered events of other streams: up
 * to 1,025 ms, each entry tried against 100 GLOBs; found in review), and a window of 65,536 positions with 100
 * prefixes still took some 400 ms. So such a page ends this many checks past its start, matches or not, and its
 * caller goes on from there (a subscription after a turn of the event loop).
 *
 * The other filters need no window: every entry they examine is a match (a type-only page walks only its types'
 * index entries, at most the page size per type; an unfiltered page reads at most the page size of rows).
 */
export const PREFIX_SCAN_WINDOW = 65_536n;

interface CompiledFilter {
  readonly prefixes: readonly string[];
  readonly types: readonly string[];
}

/** Validates and normalises a filter once, so that every page of a long read reuses it. */
export function compileFilter(filter: AllFilter | undefined, argument: string): CompiledFilter {
  const list = (values: readonly string[] | undefined, name: string): readonly string[] => {
    if (values === undefined) return [];
    if (!Array.isArray(values) || values.length === 0 || values.some((v) => typeof v !== 'string')) {
      // An empty list is ambiguous (match nothing? everything?): the caller omits the field to match everything.
      throw new Error(`${argument}.${name}: must be a non-empty array of strings, or omitted`);
    }
    return [...new Set(values)];
  };
  return { prefixes: list(filter?.streamPrefixes, 'streamPrefixes'), types: list(filter?.eventTypes, 'eventTypes') };
}

const maxBigint = (a: bigint, b: bigint): bigint => (a > b ? a : b);

// GLOB is case-sensitive and its only metacharacters are * ? [ : bracketing them makes a prefix literal, where
// LIKE would also treat % and _ as wildcards and fold ASCII case.
const globPrefix = (prefix: string): string => prefix.replace(/[*?[]/g, (c) => `[${c}]`) + '*';

/**
 * Reads $all in pages. Every page is bounded by the head read just before it: since SQLite has one writer at a
 * time, no position below the head can still appear, so a short page lets the cursor jump to the head and a sparse
 * filter never rescans rows it has already examined.
 */
export class PageReader {
  private readonly head: Database.Statement;
  private readonly cache = new Map<string, Database.Statement>();

  private readonly window: bigint;

  constructor(
    private readonly db: Database.Database,
    prefixScanWindow: number = Number(PREFIX_SCAN_WINDOW),
  ) {
    if (!Number.isSafeInteger(prefixScanWindow) || prefixScanWindow < 1) throw new Error('prefixScanWindow: must be >= 1');
    this.window = BigInt(prefixScanWindow);
    this.head = db.prepare('SELECT MAX(position) AS head FROM events');
  }

  headPosition(): bigint | undefined {
    const row = this.head.get() as { head: bigint | null };
    return row.head ?? undefined;
  }

  /**
   * `maxBytes` (a subscription's `pageBytes`): the page also ends before its rows' data and metadata text would pass
   * that many characters, measured on the stored text before anything is decoded, at least one row a page. A page held
   * by a reader that stalls (an event stream's client that stopped reading) then costs that, not `limit` records
   * (review 285: 1,000 records of 4.5 kB a stalled stream). The rows are stepped through rather than read at once.
   */
  read(after: bigint, filter: CompiledFilter, limit: number, maxBytes?: number): Page {
    const logHead = this.headPosition();
    if (logHead === undefined || logHead <= after || limit <= 0) return { events: [], cursor: after, atHead: true };
    // Types do not lift the window: the walk of their index entries tries the prefixes on each entry, and a sparse
    // filter rejects nearly all of them (see PREFIX_SCAN_WINDOW). At least one position, so that a page moves on.
    const span = filter.prefixes.length === 0 ? undefined : maxBigint(1n, this.window / BigInt(filter.prefixes.length));
    const head = span !== undefined && logHead - after > span ? after + span : logHead;
    const params: Record<string, unknown> = { after, head, limit };
    filter.prefixes.forEach((p, i) => (params[`p${i}`] = globPrefix(p)));
    filter.types.forEach((t, i) => (params[`t${i}`] = t));
    const statement = this.statement(filter.prefixes.length, filter.types.length);
    const { rows, cut } = maxBytes === undefined ? { rows: statement.all(params) as unknown[][], cut: false } : rowsWithin(statement, params, maxBytes);
    const events = rows.map(recordedEventOfRaw);
    const last = events.at(-1);
    // A page cut by its bytes goes on after its last row, as one cut by its size does.
    const cursor = (events.length < limit && !cut) || last === undefined ? head : last.position;
    return { events, cursor, atHead: cursor === logHead };
  }

  private statement(prefixCount: number, typeCount: number): Database.Statement {
    const key = `${prefixCount}:${typeCount}`;
    let statement = this.cache.get(key);
    if (statement === undefined) {
      // Filters with many distinct shapes would otherwise keep statements forever.
      if (this.cache.size >= 64) this.cache.clear();
      // Raw rows (arrays in EVENT_COLUMNS order): no object per row that is dropped as soon as it is read.
      statement = this.db.prepare(pageSql(prefixCount, typeCount)).raw(true);
      this.cache.set(key, statement);
    }
    return statement;
  }
}

const COLUMNS = EVENT_COLUMNS.split(', ');
const DATA = COLUMNS.indexOf('data');
const METADATA = COLUMNS.indexOf('metadata');

// A column that is not text is refused by the decoding that follows (rows.ts): it counts for nothing here.
const textLength = (value: unknown): number => (typeof value === 'string' ? value.length : 0);

/** A page statement's rows, stepped through until the next would pass `maxBytes` of payload text (the first always). */
function rowsWithin(statement: Database.Statement, params: Record<string, unknown>, maxBytes: number): { rows: unknown[][]; cut: boolean } {
  const rows: unknown[][] = [];
  let bytes = 0;
  // Leaving the loop early ends the statement's step (the iterator's return resets it).
  for (const row of statement.iterate(params) as IterableIterator<unknown[]>) {
    const size = textLength(row[DATA]) + textLength(row[METADATA]);
    if (rows.length > 0 && bytes + size > maxBytes) return { rows, cut: true };
    rows.push(row);
    bytes += size;
  }
  return { rows, cut: false };
}

function pageSql(prefixCount: number, typeCount: number): string {
  const prefixClause =
    prefixCount === 0
      ? ''
      : ` AND (${Array.from({ length: prefixCount }, (_, i) => `stream_id GLOB @p${i}`).join(' OR ')})`;
  const range = 'position > @after AND position <= @head';
  if (typeCount === 0) {
    // NOT INDEXED keeps the walk on the rowid in position order: an index on stream_id would need a sort of every
    // match on each page, which grows with the log.
    return `SELECT ${EVENT_COLUMNS} FROM events NOT INDEXED WHERE ${range}${prefixClause} ORDER BY position LIMIT @limit`;
  }
  // One ordered walk of the (type, position, stream_id) index per type, each cut at the page size, then merged:
  // a page costs at most (types x page size) index entries however many events match overall, and with prefixes
  // (checked on the index's stream_id, no row touched) at most the entries of the window's positions (@head).
  const perType = Array.from(
    { length: typeCount },
    (_, i) =>
      `SELECT position FROM (SELECT position FROM events INDEXED BY events_type_position ` +
      `WHERE type = @t${i} AND ${range}${prefixClause} ORDER BY position LIMIT @limit)`,
  ).join(' UNION ALL ');
  return `SELECT ${EVENT_COLUMNS} FROM events WHERE position IN (${perType}) ORDER BY position LIMIT @limit`;
}
