import type Database from 'better-sqlite3';
import { prepared } from '../runtime/index.ts';

/**
 * Which entities depend on which: the cascade's memory. A row says that `child` must follow `parent` when the
 * parent is revoked (or, for a subscription, ends).
 */
export type Relation =
  | 'credential-of-node'
  | 'credential-of-application'
  | 'association-of-credential'
  | 'association-of-node'
  | 'association-of-application'
  | 'node-of-subscription';

export const setupDependents = (db: Database.Database): void => {
  db.exec(`CREATE TABLE IF NOT EXISTS cascade_dependents (
    parent TEXT NOT NULL,
    relation TEXT NOT NULL,
    child TEXT NOT NULL,
    PRIMARY KEY (parent, relation, child)
  ) WITHOUT ROWID`);
};

export const resetDependents = (db: Database.Database): void => {
  db.exec('DELETE FROM cascade_dependents');
};

export const addDependent = (db: Database.Database, parent: string, relation: Relation, child: string): void => {
  prepared(db, 'INSERT OR IGNORE INTO cascade_dependents (parent, relation, child) VALUES (?, ?, ?)').run(parent, relation, child);
};

export const dependentsOf = (db: Database.Database, parent: string, relation: Relation): string[] =>
  (prepared(db, 'SELECT child FROM cascade_dependents WHERE parent = ? AND relation = ? ORDER BY child').all(parent, relation) as {
    child: string;
  }[]).map((r) => r.child);
