import type Database from 'better-sqlite3';

const cache = new WeakMap<Database.Database, Map<string, Database.Statement>>();

/**
 * A prepared statement for `sql` on `db`, compiled once per connection. Handlers run once per event, so
 * re-preparing on every call would cost more than the write itself during a catch-up.
 */
export const prepared = (db: Database.Database, sql: string): Database.Statement => {
  let statements = cache.get(db);
  if (statements === undefined) {
    statements = new Map();
    cache.set(db, statements);
  }
  let statement = statements.get(sql);
  if (statement === undefined) {
    statement = db.prepare(sql);
    statements.set(sql, statement);
  }
  return statement;
};
