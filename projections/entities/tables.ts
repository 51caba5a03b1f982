import type Database from 'better-sqlite3';
import { prepared, type QueryIndex } from '../runtime/index.ts';

/**
 * One row per entity: what "list entities by kind and state" reads (a kind is a range of stream ids, `<kind>-`, so
 * the primary key and one index on state serve every filter), and the machine snapshot (state value and
 * context, the compact form XState resolves again) the next event of the entity is applied to.
 */
/** Listing and counting by state read through it; `apply` finds a row by its primary key only. */
export const ENTITIES_STATE_INDEX: QueryIndex = {
  name: 'entities_state',
  create: 'CREATE INDEX IF NOT EXISTS entities_state ON entities (state, stream_id)',
};

export const setupEntityTables = (db: Database.Database): void => {
  db.exec(`CREATE TABLE IF NOT EXISTS entities (
    stream_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    state TEXT NOT NULL,
    revision INTEGER NOT NULL,
    position INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    snapshot TEXT NOT NULL,
    broken_position INTEGER,
    broken_reason TEXT
  ) WITHOUT ROWID`);
  db.exec(ENTITIES_STATE_INDEX.create);
};

export const resetEntityTables = (db: Database.Database): void => {
  db.exec('DELETE FROM entities');
};

export interface EntityRow {
  readonly streamId: string;
  readonly kind: string;
  readonly id: string;
  readonly state: string;
  /** Stream revision of the entity's last event (fact claims, which are no events of the entity, are not counted). */
  readonly revision: bigint;
  /** Global position of the entity's last event. */
  readonly position: bigint;
  /** occurredAt of the entity's last event. */
  readonly updatedAt: string;
  /** The first stored event its machine refused: the state shown is the one before it (`credence replay` explains). */
  readonly broken?: { readonly position: bigint; readonly reason: string };
}

export interface StoredSnapshot {
  readonly value: unknown;
  readonly context: Record<string, unknown>;
}

interface Row {
  stream_id: string;
  kind: string;
  entity_id: string;
  state: string;
  revision: bigint;
  position: bigint;
  updated_at: string;
  snapshot: string;
  broken_position: bigint | null;
  broken_reason: string | null;
}

const toRow = (r: Row): EntityRow => ({
  streamId: r.stream_id,
  kind: r.kind,
  id: r.entity_id,
  state: r.state,
  revision: BigInt(r.revision),
  position: BigInt(r.position),
  updatedAt: r.updated_at,
  ...(r.broken_position !== null ? { broken: { position: BigInt(r.broken_position), reason: r.broken_reason ?? '' } } : {}),
});

export const readSnapshot = (db: Database.Database, streamId: string): StoredSnapshot | undefined => {
  const row = prepared(db, 'SELECT snapshot FROM entities WHERE stream_id = ?').get(streamId) as { snapshot: string } | undefined;
  return row === undefined ? undefined : (JSON.parse(row.snapshot) as StoredSnapshot);
};

/** The snapshots of the rows of `streamIds` that exist, read in one query. */
export const readSnapshots = (db: Database.Database, streamIds: ReadonlySet<string>): Map<string, StoredSnapshot> => {
  const found = new Map<string, StoredSnapshot>();
  if (streamIds.size === 0) return found;
  const rows = prepared(db, 'SELECT stream_id, snapshot FROM entities WHERE stream_id IN (SELECT value FROM json_each(?))').all(
    JSON.stringify([...streamIds]),
  ) as { stream_id: string; snapshot: string }[];
  for (const r of rows) found.set(r.stream_id, JSON.parse(r.snapshot) as StoredSnapshot);
  return found;
};

const ENTITY_ROW = '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';
/** An entity row is written over the existing one; the first broken event stays the one named. */
const UPSERT = `ON CONFLICT(stream_id) DO UPDATE SET state = excluded.state, revision = excluded.revision, position = excluded.position,
       updated_at = excluded.updated_at, snapshot = excluded.snapshot,
       broken_position = COALESCE(entities.broken_position, excluded.broken_position),
       broken_reason = COALESCE(entities.broken_reason, excluded.broken_reason)`;
const INSERT = 'INSERT INTO entities (stream_id, kind, entity_id, state, revision, position, updated_at, snapshot, broken_position, broken_reason) VALUES ';
/** Rows per statement when a batch writes its entities (10 x 32 parameters). */
const ENTITIES_PER_STATEMENT = 32;

const pushEntity = (values: unknown[], row: EntityRow, snapshot: StoredSnapshot): void => {
  values.push(
    row.streamId,
    row.kind,
    row.id,
    row.state,
    row.revision,
    row.position,
    row.updatedAt,
    JSON.stringify(snapshot),
    row.broken?.position ?? null,
    row.broken?.reason ?? null,
  );
};

export const writeEntity = (db: Database.Database, row: EntityRow, snapshot: StoredSnapshot): void => {
  const values: unknown[] = [];
  pushEntity(values, row, snapshot);
  prepared(db, `${INSERT}${ENTITY_ROW} ${UPSERT}`).run(...values);
};

/**
 * Many entities, as `writeEntity` on each would write them, 32 to a statement (one upsert over several rows; each
 * stream id appears at most once, so no row of a statement conflicts with another of the same statement).
 */
export const writeEntities = (db: Database.Database, rows: readonly (readonly [EntityRow, StoredSnapshot])[]): void => {
  const many = prepared(db, `${INSERT}${Array(ENTITIES_PER_STATEMENT).fill(ENTITY_ROW).join(', ')} ${UPSERT}`);
  const values: unknown[] = [];
  let i = 0;
  for (; i + ENTITIES_PER_STATEMENT <= rows.length; i += ENTITIES_PER_STATEMENT) {
    values.length = 0;
    for (let k = i; k < i + ENTITIES_PER_STATEMENT; k++) pushEntity(values, rows[k]![0], rows[k]![1]);
    // Spread: better-sqlite3 reads arguments faster than the elements of one array (projections/audit/tables.ts).
    many.run(...values);
  }
  for (; i < rows.length; i++) writeEntity(db, rows[i]![0], rows[i]![1]);
};

export interface EntityPageQuery {
  readonly kind?: string;
  readonly state?: string;
  /** Stream id of the last row of the previous page: the page starts strictly after it. */
  readonly after?: string;
  readonly limit: number;
}

/** A page in stream-id order (keyset pagination: stable while rows are added or change state). */
export const listEntities = (db: Database.Database, q: EntityPageQuery): EntityRow[] => {
  const where: string[] = [];
  const args: unknown[] = [];
  // '.' follows '-' in code-point order: [`<kind>-`, `<kind>.`) is exactly the streams of the kind.
  if (q.kind !== undefined) (where.push('stream_id >= ? AND stream_id < ?'), args.push(`${q.kind}-`, `${q.kind}.`));
  if (q.state !== undefined) (where.push('state = ?'), args.push(q.state));
  if (q.after !== undefined) (where.push('stream_id > ?'), args.push(q.after));
  const sql = `SELECT * FROM entities ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY stream_id LIMIT ?`;
  return (prepared(db, sql).all(...args, q.limit) as Row[]).map(toRow);
};

export const entityRow = (db: Database.Database, streamId: string): EntityRow | undefined => {
  const row = prepared(db, 'SELECT * FROM entities WHERE stream_id = ?').get(streamId) as Row | undefined;
  return row === undefined ? undefined : toRow(row);
};

/** Every row with its snapshot, in stream-id order: what a rebuild is compared with. */
export const allEntities = (db: Database.Database): (EntityRow & { snapshot: string })[] =>
  (prepared(db, 'SELECT * FROM entities ORDER BY stream_id').all() as Row[]).map((r) => ({ ...toRow(r), snapshot: r.snapshot }));

export interface EntityCount {
  readonly kind: string;
  readonly state: string;
  readonly count: number;
}

/**
 * How many entities of each kind are in each state: one GROUP BY over the state index, which holds the stream id
 * whose prefix is the kind, so the snapshots are never read (SQLite's planner picks that index; it is not forced
 * with INDEXED BY, which would fail while a catch-up from position 0 has it dropped: projections/runtime).
 */
export const countEntities = (db: Database.Database): EntityCount[] =>
  (
    prepared(
      db,
      `SELECT substr(stream_id, 1, instr(stream_id, '-') - 1) AS kind, state, COUNT(*) AS count
       FROM entities GROUP BY state, kind ORDER BY kind, state`,
    ).all() as { kind: string; state: string; count: bigint | number }[]
  ).map((r) => ({ kind: r.kind, state: r.state, count: Number(r.count) }));
