import type Database from 'better-sqlite3';
import { readCheckpoint } from './checkpoints.ts';
import { prepared } from './statements.ts';
import type { Projection, ReadModelRules } from './types.ts';

/** What the read model was built under: `recorded` is undefined for one built before its rules were kept. */
export interface RulesChange {
  readonly name: string;
  readonly recorded: ReadModelRules | undefined;
  readonly given: ReadModelRules;
}

/** What to do with a read model built under other rules than a runner's: see RunnerOptions.onRulesChanged. */
export type OnRulesChanged = 'refuse' | 'rebuild';

const describeRecorded = (recorded: ReadModelRules | undefined): string =>
  recorded?.description ?? 'rules it did not record (an earlier version of Credence built it)';

/** One line for a log or an error: the two rules, never a row of the read model. */
export const describeRulesChange = (c: RulesChange): string =>
  `the ${c.name} read model was built under ${describeRecorded(c.recorded)}, not under ${c.given.description}`;

/**
 * A runner refused to extend a read model built under other rules than the ones it was given: its rows would be
 * judged two ways past one checkpoint, and those already written would never be judged again. Nothing was written.
 */
export class ReadModelRulesChanged extends Error {
  readonly code = 'read_model_rules_changed';

  constructor(readonly change: RulesChange) {
    super(
      `${describeRulesChange(change)}, which this process was given: it is extended only under the rules that built it. ` +
        `Give this process those rules, or rebuild the ${change.name} read model from position 0 under the new ones`,
    );
    this.name = 'ReadModelRulesChanged';
  }
}

const hasRulesTable = (db: Database.Database): boolean =>
  prepared(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'projection_rules'").get() !== undefined;

export const readRules = (db: Database.Database, name: string): ReadModelRules | undefined => {
  if (!hasRulesTable(db)) return undefined;
  const row = prepared(db, 'SELECT fingerprint, description FROM projection_rules WHERE name = ?').get(name) as ReadModelRules | undefined;
  return row === undefined ? undefined : { fingerprint: row.fingerprint, description: row.description };
};

/** In the caller's transaction when it has one: with a reset, so that the rows and their rules change together. */
export const writeRules = (db: Database.Database, name: string, rules: ReadModelRules): void => {
  db.exec(`CREATE TABLE IF NOT EXISTS projection_rules (
    name TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    description TEXT NOT NULL
  ) WITHOUT ROWID`);
  prepared(
    db,
    `INSERT INTO projection_rules (name, fingerprint, description) VALUES (?, ?, ?)
     ON CONFLICT(name) DO UPDATE SET fingerprint = excluded.fingerprint, description = excluded.description`,
  ).run(name, rules.fingerprint, rules.description);
};

/**
 * Whether the read model `name` may be extended under `rules`: undefined when it was built under them, or holds
 * nothing yet (no checkpoint: it is empty, a first start or after a reset) and then they are recorded for it here;
 * otherwise the change, and nothing is written. A read model with a checkpoint and no recorded rules was built by an
 * earlier version, under rules nobody can tell now: a change too.
 */
export const rulesChangeOf = (db: Database.Database, name: string, rules: ReadModelRules): RulesChange | undefined => {
  const change = recordedRulesChange(db, name, rules);
  if (change === undefined && readRules(db, name)?.fingerprint !== rules.fingerprint) writeRules(db, name, rules);
  return change;
};

/**
 * rulesChangeOf without its write: whether the read model `name` holds rows built under other rules than `rules`
 * (undefined when it was built under them, or holds nothing yet). What a rebuild of several read models asks of
 * each before it empties any (ProjectionRunner.rulesChanges).
 */
export const recordedRulesChange = (db: Database.Database, name: string, rules: ReadModelRules): RulesChange | undefined => {
  const recorded = readRules(db, name);
  if (recorded?.fingerprint === rules.fingerprint) return undefined;
  if (readCheckpoint(db, name) === undefined) return undefined;
  return { name, recorded, given: rules };
};

/** recordedRulesChange of each projection that has rules. */
export const recordedRulesChanges = (db: Database.Database, projections: readonly Projection[]): RulesChange[] =>
  projections.flatMap((p) => {
    const change = p.rules === undefined ? undefined : recordedRulesChange(db, p.name, p.rules);
    return change === undefined ? [] : [change];
  });

/**
 * Each projection's rules checked once (`check`: rulesChangeOf, then a refusal or a rebuild), however many catch-ups
 * and live batches ask; a refusal is not kept, so the next call looks again.
 */
export class RulesChecks {
  readonly #checked = new Map<string, Promise<RulesChange | undefined>>();

  constructor(private readonly check: (projection: Projection, rules: ReadModelRules) => Promise<RulesChange | undefined>) {}

  async of(projections: readonly Projection[]): Promise<readonly RulesChange[]> {
    const changes: RulesChange[] = [];
    for (const projection of projections) {
      if (projection.rules === undefined) continue;
      let checking = this.#checked.get(projection.name);
      if (checking === undefined) {
        const started = this.check(projection, projection.rules);
        checking = started;
        this.#checked.set(projection.name, started);
        started.catch(() => {
          if (this.#checked.get(projection.name) === started) this.#checked.delete(projection.name);
        });
      }
      const change = await checking;
      if (change !== undefined) changes.push(change);
    }
    return changes;
  }
}
