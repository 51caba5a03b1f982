import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { run as exportCommand } from '../bin/commands/export.ts';
import { run as verifyCommand } from '../bin/commands/verify.ts';
import { capture } from './support/cli.ts';
import { appendEvents, tempDirs } from './transparency-fixtures.ts';

/*
 * Found in review: `credence verify --data` opened transparency.db read-write (WAL mode set, the schema migrated),
 * so an audit could change the very file it judged. It now opens it read-only, and a file of an older schema is
 * refused with a message instead of being migrated.
 */
const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const digest = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

const logged = async (): Promise<string> => {
  const dir = dirs.make();
  const store = openSqliteStoreInDir(dir);
  await appendEvents(store, 5);
  await store.close();
  const c = capture();
  // An export catches the log up and signs a checkpoint over it.
  expect(await exportCommand(['credential-meter-1', '--out', join(dir, 'a.json'), '--data', dir], c.io), c.err.join('\n')).toBe(0);
  return dir;
};

const audit = async (dir: string) => {
  const c = capture();
  const key = readFileSync(join(dir, 'transparency.pub'), 'utf8').trim();
  return { code: await verifyCommand(['--data', dir, '--key', key], c.io), out: c.out.join('\n'), err: c.err.join('\n') };
};

describe('verify --data changes nothing it audits', () => {
  it('leaves transparency.db byte for byte as it was, and writes nothing into its journal', async () => {
    const dir = await logged();
    const file = join(dir, 'transparency.db');
    const EMPTY = createHash('sha256').digest('hex');
    // SQLite may leave an empty write-ahead log beside a WAL file it opened read-only: nothing is written into it.
    const state = () => [digest(file), existsSync(`${file}-wal`) ? digest(`${file}-wal`) : EMPTY];
    const before = state();
    const result = await audit(dir);
    expect(result.code, result.err).toBe(0);
    expect(state()).toEqual(before);
  });

  it('refuses a log of an older schema with a message, and does not migrate it', async () => {
    const dir = await logged();
    const file = join(dir, 'transparency.db');
    const db = new Database(file);
    db.pragma('user_version = 1');
    db.close();
    const before = digest(file);
    const result = await audit(dir);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/schema version 1, not 2 to 3: open it once with the service of this version/);
    expect(digest(file)).toBe(before);
  });

  it('audits a log of schema 2 (before refusals were kept) as it is, and does not migrate it (review 56)', async () => {
    // A log archived before schema 3 (the README's `<data>.before-restore`) is audited without a service opening it.
    const dir = await logged();
    const file = join(dir, 'transparency.db');
    const db = new Database(file);
    db.exec('DROP TABLE refusal; PRAGMA user_version = 2;');
    db.close();
    const before = digest(file);
    const result = await audit(dir);
    expect(result.code, result.err).toBe(0);
    expect(result.err).not.toMatch(/REFUSED|warning/);
    expect(digest(file)).toBe(before);
  });
});
