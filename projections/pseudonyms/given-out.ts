import type Database from 'better-sqlite3';
import { prepared } from '../runtime/index.ts';

/**
 * Whether the pseudonym directory of these read models lists any pseudonym given out: one indexed row, read without
 * the store. What a start over a store it cannot read synchronously (EventStoreDB) knows at once of the pseudonyms the
 * log holds; a directory not set up yet (a new or deleted readmodels.db) lists none.
 */
export const pseudonymsListed = (db: Database.Database): boolean => {
  const table = prepared(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'pseudonym_directory'").get();
  return table !== undefined && prepared(db, 'SELECT 1 FROM pseudonym_directory LIMIT 1').get() !== undefined;
};
