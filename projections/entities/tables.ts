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

export const writeEntity = (db: Database.Database, row: EntityRow, snapshot: StoredSnapshot): void => {
  prepared(
    db,
    `INSERT INTO entities (stream_id, kind, entity_id, state, revision, position, updated_at, snapshot, broken_position, broken_reason)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT(stream_id) DO UPDATE SET state = excluded.state, revision = excluded.revision, position = excluded.position,
       updated_at = excluded.updated_at, snapshot = excluded.snapshot,
       broken_position = COALESCE(entities.broken_position, excluded.broken_position),
       broken_reason = COALESCE(entities.broken_reason, excluded.broken_reason)`,
  ).run(
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
