import type Database from 'better-sqlite3';
import { prepared } from './statements.ts';

/**
 * What a reader that sets nothing up finds of `table` (`credence projections` beside a running service, which keeps
 * its own tables until it restarts on this version): its rows, read by `read`, when it has every column in `columns`
 * (those this version reads), else only their count (`rows` undefined), which any version's table answers; `total`
 * undefined when there is no table, as a version before it left the folder. Review 140: a table of the version
 * before, read as this version's, failed with a raw SqliteError.
 */
export const readTableAsFound = <T,>(
  db: Database.Database,
  table: string,
  columns: readonly string[],
  read: () => T[],
): { readonly rows?: T[]; readonly total?: number } => {
  const found = new Set((db.pragma(`table_info(${table})`) as { name: string }[]).map((c) => c.name));
  if (found.size === 0) return {};
  const total = Number((prepared(db, `SELECT count(*) AS n FROM ${table}`).get() as { n: bigint | number }).n);
  return columns.every((c) => found.has(c)) ? { rows: read(), total } : { total };
};
