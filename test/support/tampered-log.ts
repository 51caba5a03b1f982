import Database from 'better-sqlite3';
import { join } from 'node:path';
import type { Credence } from '../../adapters/runtime/index.ts';
import { ExpectedRevision } from '../../domain/ports/index.ts';

/** Appends an event straight to the store, with the metadata of the stream's first event: what a tampered log holds. */
export const tamper = async (c: Pick<Credence, 'store'>, stream: string, type: string, data: Record<string, unknown>): Promise<void> => {
  const [first] = await c.store.readStream(stream);
  await c.store.appendToStream(
    stream,
    [{ id: crypto.randomUUID(), type, data: data as never, metadata: { ...first!.metadata, commandId: crypto.randomUUID() } }],
    { expectedRevision: ExpectedRevision.any },
  );
};

/** Runs `sql` straight on the SQLite file `file` (events.db, transparency.db) of the data folder `dir`: that file altered. */
export const alterFile = (dir: string, file: string, sql: string): void => {
  const db = new Database(join(dir, file));
  db.exec(sql);
  db.close();
};

/** Runs `sql` straight on transparency.db of the data folder `dir`: the log file altered, events.db untouched. */
export const alterLog = (dir: string, sql: string): void => alterFile(dir, 'transparency.db', sql);
