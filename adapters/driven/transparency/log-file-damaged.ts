import type Database from 'better-sqlite3';
import { asDamagedDatabase } from '../files/damaged-database.ts';

/**
 * The log file found damaged by SQLite (a torn or overwritten page: SQLITE_CORRUPT*; no database at all:
 * SQLITE_NOTADB) is the typed `damaged_database` refusal naming transparency.db and what mends it, wherever the log
 * reads or writes it. Found in review 51: a torn page of `nodes` reached the evidence route as the driver's bare
 * error, a 500 `internal` with its stack in the log, and `credence export` as a crash. The log knows its own file, so
 * nothing has to be guessed afterwards; the cost is one try per statement, next to a B-tree read.
 */
export const guardDamage = <T>(file: string, work: () => T): T => {
  try {
    return work();
  } catch (error) {
    throw asDamagedDatabase(file, error);
  }
};

export interface GuardedStatement {
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  run(...params: unknown[]): Database.RunResult;
}

/** A prepared statement of the log whose every execution reports a damaged file as `damaged_database`. */
export const guardedStatement = (statement: Database.Statement, file: string): GuardedStatement => ({
  get: (...params) => guardDamage(file, () => statement.get(...params)),
  all: (...params) => guardDamage(file, () => statement.all(...params)),
  run: (...params) => guardDamage(file, () => statement.run(...params)),
});
