import Database from 'better-sqlite3';
import type { Credence } from '../../adapters/runtime/index.ts';
import { cascadeProcessManager, type CascadeLog } from '../../projections/cascade/index.ts';
import { ProjectionRunner } from '../../projections/runtime/index.ts';

export type CascadeLogEntry = Parameters<CascadeLog>[0];

/**
 * The cascade rebuilt from the start of `c`'s log into read models of its own (in memory), `batchSize` events a
 * transaction, against `c`'s engine: those read models (the caller closes them) and what the cascade logged.
 */
export const rebuildCascade = async (c: Pick<Credence, 'store' | 'engine'>, batchSize: number): Promise<{ db: Database.Database; log: CascadeLogEntry[] }> => {
  const db = new Database(':memory:');
  db.defaultSafeIntegers(true);
  const log: CascadeLogEntry[] = [];
  await new ProjectionRunner({ db, store: c.store, projections: [cascadeProcessManager(c.engine, (e) => log.push(e))], batchSize }).catchUp();
  return { db, log };
};
