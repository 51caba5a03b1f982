import type Database from 'better-sqlite3';
import { prepared } from '../runtime/index.ts';

/**
 * The pseudonym directory read model: every pseudonym ever issued and its node, each node's current one, and
 * every resolution. It maps pseudonyms to canonical identities, so it belongs with the read models an auditor
 * may open, never with what integrators see.
 */
export const setupDirectory = (db: Database.Database): void => {
  const enrolmentsKept = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'pseudonym_enrolments'").get() !== undefined;
  db.exec(`CREATE TABLE IF NOT EXISTS pseudonym_nodes (
    node_id TEXT PRIMARY KEY,
    class TEXT NOT NULL,
    live INTEGER NOT NULL,
    epoch INTEGER,
    pseudonym TEXT,
    rotated_at INTEGER
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS pseudonym_nodes_due ON pseudonym_nodes (live, rotated_at);
  CREATE TABLE IF NOT EXISTS pseudonym_directory (
    pseudonym TEXT PRIMARY KEY,
    node_id TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    trigger TEXT NOT NULL,
    position INTEGER NOT NULL,
    occurred_at TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS pseudonym_directory_node ON pseudonym_directory (node_id, epoch);
  CREATE TABLE IF NOT EXISTS pseudonym_resolutions (
    position INTEGER PRIMARY KEY,
    pseudonym TEXT NOT NULL,
    node_id TEXT,
    actor_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    occurred_at TEXT NOT NULL
  );
  -- Whether an auditor resolved a pseudonym (the read side's check before it shows the node): one indexed row;
  -- how many times (the bound on resolutions): one range of it.
  CREATE INDEX IF NOT EXISTS pseudonym_resolutions_by ON pseudonym_resolutions (pseudonym, actor_id);
  -- The subscription each node was last enrolled under (NULL: unknown, enrolled before this table was kept), the
  -- position of that enrolment, and whether it moved the node there from another (movedByEnrolment).
  CREATE TABLE IF NOT EXISTS pseudonym_enrolments (
    node_id TEXT PRIMARY KEY,
    subscription_id TEXT,
    position INTEGER NOT NULL,
    moved INTEGER NOT NULL
  ) WITHOUT ROWID`);
  // A directory built before this table was kept (an upgrade, its checkpoint past their enrolments): each node it lists
  // has an unknown enrolment, so its next one counts as a move (one rotation too many for a node enrolled for the first
  // time, never a move not rotated).
  if (!enrolmentsKept) db.exec('INSERT OR IGNORE INTO pseudonym_enrolments (node_id, subscription_id, position, moved) SELECT node_id, NULL, -1, 0 FROM pseudonym_nodes');
};

export const resetDirectory = (db: Database.Database): void => {
  db.exec('DELETE FROM pseudonym_nodes; DELETE FROM pseudonym_directory; DELETE FROM pseudonym_resolutions; DELETE FROM pseudonym_enrolments');
};

/** A node's enrolment (NodeEnrolled at `position`), applied once: one applied again, or older, changes nothing. */
export const enrolmentApplied = (db: Database.Database, nodeId: string, subscriptionId: string, position: bigint): void => {
  prepared(
    db,
    `INSERT INTO pseudonym_enrolments (node_id, subscription_id, position, moved) VALUES (?, ?, ?, 0)
     ON CONFLICT(node_id) DO UPDATE SET
       moved = (subscription_id IS NULL OR subscription_id <> excluded.subscription_id),
       subscription_id = excluded.subscription_id,
       position = excluded.position
     WHERE excluded.position > pseudonym_enrolments.position`,
  ).run(nodeId, subscriptionId, position);
};

/**
 * Whether the node's enrolment under `subscriptionId` at `position` moved it from another subscription (RS-17), as the
 * directory tells it, whether or not it applied that enrolment yet: a first enrolment and one under the same
 * subscription again do not. Told by the directory, not by the node stream's revision: an EventStoreDB stream holds a
 * fact-claim marker before its first enrolment (review 369). One the directory cannot tell (enrolled before it kept
 * enrolments, or a later enrolment applied already) counts as a move.
 */
export const movedByEnrolment = (db: Database.Database, nodeId: string, subscriptionId: string, position: bigint): boolean => {
  const row = prepared(db, 'SELECT subscription_id, position, moved FROM pseudonym_enrolments WHERE node_id = ?').get(nodeId) as
    | { subscription_id: string | null; position: bigint | number; moved: bigint | number }
    | undefined;
  if (row === undefined) return false;
  const at = BigInt(row.position);
  if (at === position) return Number(row.moved) === 1;
  if (at < position) return row.subscription_id === null || row.subscription_id !== subscriptionId;
  return true;
};

export interface NodePseudonym {
  readonly nodeId: string;
  readonly profileClass: string;
  readonly live: boolean;
  readonly epoch: number | undefined;
  readonly pseudonym: string | undefined;
  /** Epoch ms of the rotation to the current pseudonym. */
  readonly rotatedAt: number | undefined;
}

export interface DirectoryEntry {
  readonly pseudonym: string;
  readonly nodeId: string;
  readonly epoch: number;
  readonly trigger: string;
  /** Global position of the PseudonymRotated event. */
  readonly position: bigint;
  readonly occurredAt: string;
}

interface NodeRow {
  node_id: string;
  class: string;
  live: bigint;
  epoch: bigint | null;
  pseudonym: string | null;
  rotated_at: bigint | null;
}

const toNode = (r: NodeRow): NodePseudonym => ({
  nodeId: r.node_id,
  profileClass: r.class,
  live: r.live === 1n,
  epoch: r.epoch === null ? undefined : Number(r.epoch),
  pseudonym: r.pseudonym ?? undefined,
  rotatedAt: r.rotated_at === null ? undefined : Number(r.rotated_at),
});

/** The node's current pseudonym as far as the directory has caught up. */
export const nodePseudonym = (db: Database.Database, nodeId: string): NodePseudonym | undefined => {
  const row = prepared(db, 'SELECT * FROM pseudonym_nodes WHERE node_id = ?').get(nodeId) as NodeRow | undefined;
  return row === undefined ? undefined : toNode(row);
};

/** A node due for an interval rotation: its id and current epoch, all a round needs to order and rotate it. */
export interface DueNode {
  readonly nodeId: string;
  readonly epoch: number | undefined;
}

/**
 * The start of the interval `now` (epoch ms) falls in: the latest multiple of `everyMs` from the Unix epoch (UTC) at or
 * before it. Every node of a class rotates at these boundaries, whenever it was registered or rotated last: a rotation
 * `everyMs` after each node's own last one came at its registration's time plus a whole number of intervals, so a
 * batch mostly held one node, and an integrator who saw the registration's time knew which node rotated in it and
 * likely which new pseudonym was its (review 326; SER-018, SER-025). A node's first pseudonym is so kept for less than
 * an interval, up to the next boundary.
 */
export const intervalStart = (now: number, everyMs: number): number => Math.floor(now / everyMs) * everyMs;

/**
 * Every live node due for an interval rotation: those whose current pseudonym was taken before `boundary` (epoch ms:
 * the current interval's start, `intervalStart`), then those whose pseudonym was taken after `now`. A rotation recorded
 * while the clock ran ahead (then stepped back by NTP or an operator) looks newer than it is: waiting for the clock to
 * pass it kept one pseudonym for as long as the clock had been ahead, a year ahead a year (review 26; SER-011,
 * SER-025). It is rotated once, at `now`, and at the class's boundaries from there. Only the classes listed in
 * `classes.in`, or (with `classes.notIn`) every class not listed.
 *
 * In no meaningful order, and whole: the round orders them by the pseudonyms they will take (rotation-round.ts). A
 * page cut by `rotated_at, node_id` told which Node-ID range each rotation was in (review 188). Ids and epochs only,
 * so a fleet's whole due set fits in memory. Two range reads of `pseudonym_nodes_due`, not one `OR`: SQLite answers
 * the `OR` by walking every live node.
 */
export const dueNodes = (
  db: Database.Database,
  boundary: number,
  now: number,
  classes: { in: readonly string[] } | { notIn: readonly string[] },
): DueNode[] => {
  const list = 'in' in classes ? classes.in : classes.notIn;
  const placeholders = list.map(() => '?').join(', ');
  const filter = 'in' in classes ? `class IN (${placeholders})` : list.length === 0 ? '1' : `class NOT IN (${placeholders})`;
  const due = (range: string, bound: number): [string, bigint | null][] =>
    db.prepare(`SELECT node_id, epoch FROM pseudonym_nodes WHERE live = 1 AND ${range} AND ${filter}`).raw().all(bound, ...list) as [string, bigint | null][];
  return [...due('rotated_at < ?', boundary), ...due('rotated_at > ?', now)].map(([nodeId, epoch]) => ({
    nodeId,
    epoch: epoch === null ? undefined : Number(epoch),
  }));
};

/**
 * Whether a pseudonym taken at `rotatedAt` (epoch ms) is due for an interval rotation at `now`: taken before the
 * current interval's start (`intervalStart`), or dated after now. The rule `dueNodes` asks of the directory, for a
 * rotation known elsewhere. A node rotated on demand or on association just after a boundary so waits for the next.
 */
export const isDue = (rotatedAt: number, now: number, everyMs: number): boolean => rotatedAt < intervalStart(now, everyMs) || rotatedAt > now;

/** The epoch of the node's first rotation the directory holds, if any: one range of `pseudonym_directory_node`. */
export const firstListedEpoch = (db: Database.Database, nodeId: string): number | undefined => {
  const epoch = prepared(db, 'SELECT MIN(epoch) FROM pseudonym_directory WHERE node_id = ?').pluck().get(nodeId) as bigint | number | null;
  return epoch === null ? undefined : Number(epoch);
};

/** Every pseudonym a node has had, oldest first: for auditors, who may see canonical identities. */
export const pseudonymHistory = (db: Database.Database, nodeId: string): DirectoryEntry[] =>
  (
    db.prepare('SELECT * FROM pseudonym_directory WHERE node_id = ? ORDER BY epoch').all(nodeId) as {
      pseudonym: string;
      node_id: string;
      epoch: bigint;
      trigger: string;
      position: bigint;
      occurred_at: string;
    }[]
  ).map((r) => ({
    pseudonym: r.pseudonym,
    nodeId: r.node_id,
    epoch: Number(r.epoch),
    trigger: r.trigger,
    position: r.position,
    occurredAt: r.occurred_at,
  }));

/**
 * How many resolutions of `pseudonym` the directory holds by `actorId`, counted up to `atMost`: one range of
 * `pseudonym_resolutions_by`, however many the pseudonym's stream holds. Only as current as the directory: a caller
 * that must count a resolution just recorded waits for it to catch up first.
 */
export const resolutionsBy = (db: Database.Database, pseudonym: string, actorId: string, atMost: number): number =>
  Number(
    (
      prepared(db, 'SELECT COUNT(*) AS n FROM (SELECT 1 FROM pseudonym_resolutions WHERE pseudonym = ? AND actor_id = ? LIMIT ?)').get(
        pseudonym,
        actorId,
        atMost,
      ) as { n: bigint | number }
    ).n,
  );

/**
 * The pseudonyms `actorId` recorded a resolution of that sort after `after` (all of them without it), in order, at most
 * `limit`: what an auditor's entity listing shows of the pseudonyms, a page of it read without walking those it does
 * not show (review 282). A pseudonym's stream id is its id behind one prefix, so this is their stream-id order too.
 * One range of `pseudonym_resolutions_by` from `after`, passing only other auditors' resolutions in it. As current as
 * the directory, as resolutionsBy.
 */
export const pseudonymsResolvedBy = (db: Database.Database, actorId: string, after: string | undefined, limit: number): string[] =>
  prepared(db, 'SELECT DISTINCT pseudonym FROM pseudonym_resolutions WHERE pseudonym > ? AND actor_id = ? ORDER BY pseudonym LIMIT ?')
    .pluck()
    .all(after ?? '', actorId, limit) as string[];

export interface ResolutionRecord {
  readonly position: bigint;
  readonly pseudonym: string;
  readonly nodeId: string | undefined;
  readonly actor: string;
  readonly reason: string;
  readonly occurredAt: string;
}

/** Who resolved which pseudonym, when and why: resolutions are themselves auditable (SER-025). */
export const resolutions = (db: Database.Database): ResolutionRecord[] =>
  (
    db.prepare('SELECT * FROM pseudonym_resolutions ORDER BY position').all() as {
      position: bigint;
      pseudonym: string;
      node_id: string | null;
      actor_id: string;
      reason: string;
      occurred_at: string;
    }[]
  ).map((r) => ({
    position: r.position,
    pseudonym: r.pseudonym,
    nodeId: r.node_id ?? undefined,
    actor: r.actor_id,
    reason: r.reason,
    occurredAt: r.occurred_at,
  }));
