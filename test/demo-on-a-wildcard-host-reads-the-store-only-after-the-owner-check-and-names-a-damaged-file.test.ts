/**
 * Review 52, finding 5: `credence demo|start --host 0.0.0.0` reads events.db to know whether the demo makes a CA, before
 * the service opens the folder. That read came before the start's own checks: a damaged events.db was SQLite's bare
 * "file is not a database", naming no file, and a folder another account owns was opened read-write. The owner check
 * now comes first, and a file SQLite cannot read is the damaged_database refusal naming it and what mends it.
 */
import Database from 'better-sqlite3';
import { chownSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-wildcard-store-read-');
const asRoot = process.geteuid?.() === 0;
const NOBODY = 65534;

/** `credence <args>` in this process with no environment of the shell running the tests. */
const credence = async (args: string[]) => {
  const run = capture();
  const code = await main(args, { ...run.io, env: {} });
  return { code, out: run.out.join('\n'), err: run.err.join('\n') };
};

/** A data folder holding only an events.db: `content` as its bytes, or an empty store (its table, no event). */
const folderWithEventsDb = (content?: Buffer): string => {
  const data = join(scratch(), 'data');
  mkdirSync(data, { mode: 0o700 });
  const file = join(data, 'events.db');
  if (content !== undefined) {
    writeFileSync(file, content, { mode: 0o600 });
  } else {
    const db = new Database(file);
    db.exec('CREATE TABLE events (position INTEGER PRIMARY KEY, type TEXT)');
    db.close();
  }
  return data;
};

describe('credence demo and start on a wildcard host without a public URL, reading the store first', () => {
  it('name a damaged events.db and what mends it, and leave the folder as it was', async () => {
    const data = folderWithEventsDb(Buffer.alloc(8192, 0xa5));
    for (const command of ['demo', 'start']) {
      const refused = await credence([command, '--data', data, '--host', '0.0.0.0', '--port', '0']);
      expect(refused.err).toContain(`refused (damaged_database): the database ${join(data, 'events.db')} is damaged (SQLITE_NOTADB: `);
      expect(refused.err).toContain('nothing rebuilds it');
      expect(refused.code).toBe(1);
      expect(readdirSync(data)).toEqual(['events.db']);
    }
  }, 60_000);

  it.skipIf(!asRoot)('refuse a folder another account owns before its events.db is opened (needs root to chown)', async () => {
    const data = folderWithEventsDb();
    chownSync(join(data, 'events.db'), NOBODY, NOBODY);
    const before = statSync(join(data, 'events.db'));
    for (const command of ['demo', 'start']) {
      const refused = await credence([command, '--data', data, '--host', '0.0.0.0', '--port', '0']);
      expect(refused.err).toContain(`${join(data, 'events.db')} is owned by uid ${NOBODY}`);
      expect(refused.err).not.toContain('publicUrl must be set');
      expect(refused.code).not.toBe(0);
      expect(readdirSync(data)).toEqual(['events.db']);
      expect(statSync(join(data, 'events.db')).atimeMs).toBe(before.atimeMs);
    }
  }, 60_000);
});
