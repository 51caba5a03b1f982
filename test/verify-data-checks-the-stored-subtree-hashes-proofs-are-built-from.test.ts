import Database from 'better-sqlite3';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { lockDataFolder } from '../adapters/runtime/data-folder.ts';
import { run as exportCommand } from '../bin/commands/export.ts';
import { run as verifyCommand } from '../bin/commands/verify.ts';
import { capture } from './support/cli.ts';
import { appendEvents, tempDirs } from './transparency-fixtures.ts';

/*
 * Found in review 51: `credence verify --data` recomputed the tree from the leaves only, while inclusion and consistency
 * proofs are built from the subtree hashes transparency.db keeps (its `nodes` table). One changed hash made every proof
 * through it fail and `credence export` refuse ("the log file was altered; run credence verify --data") while the check
 * it named said ok. And a torn page of that table was said to be a missing subtree (verify) or the driver's bare
 * error (export), naming no file; it is now `damaged_database`, naming transparency.db and what mends it.
 */
const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const run = async (command: typeof verifyCommand, args: string[]) => {
  const c = capture();
  return { code: await command(args, c.io), out: c.out.join('\n'), err: c.err.join('\n') };
};
const verifyData = (dir: string) => run(verifyCommand, ['--data', dir, '--key', readFileSync(join(dir, 'transparency.pub'), 'utf8').trim()]);
const exportStream = (dir: string) => run(exportCommand, ['credential-meter-1', '--out', join(dir, 'bundle.json'), '--force', '--data', dir]);

/** A folder of 8 events, logged and signed by an export: complete subtrees up to level 3. */
const folder = async (): Promise<string> => {
  const dir = dirs.make();
  const store = openSqliteStoreInDir(dir);
  await appendEvents(store, 8);
  await store.close();
  const exported = await exportStream(dir);
  expect(exported.code, exported.err).toBe(0);
  return dir;
};

const onLog = (dir: string, work: (db: Database.Database) => void): void => {
  const db = new Database(join(dir, 'transparency.db'));
  try {
    work(db);
  } finally {
    db.close();
  }
};

describe('verify --data holds the stored subtree hashes to the leaves', () => {
  it('passes on the untouched folder', async () => {
    const dir = await folder();
    const result = await verifyData(dir);
    expect(result.code, result.err).toBe(0);
  });

  it('fails on one changed interior hash, naming transparency.db, its level and index, where export is refused', async () => {
    const dir = await folder();
    onLog(dir, (db) => db.prepare('UPDATE nodes SET hash = randomblob(32) WHERE level = 2 AND idx = 1').run());
    const exported = await exportStream(dir);
    expect(exported.code).toBe(1);
    expect(exported.err).toMatch(/the log file was altered; run credence verify --data/);

    const result = await verifyData(dir);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/TAMPERED: node_mismatch at position \d+: transparency\.db: the stored subtree hash at level 2, index 1 \(leaves 4 to 7\) is not the hash of its leaves/);
    expect(result.err).toMatch(/credence verify --data DIR --repair-nodes/);
  });

  it('--repair-nodes writes the stored subtree hashes again from the leaves: the audit passes and export serves proofs again', async () => {
    const dir = await folder();
    onLog(dir, (db) => db.prepare('UPDATE nodes SET hash = randomblob(32) WHERE level = 2 AND idx = 1').run());
    const repaired = await run(verifyCommand, ['--data', dir, '--key', readFileSync(join(dir, 'transparency.pub'), 'utf8').trim(), '--repair-nodes']);
    expect(repaired.code, repaired.err).toBe(0);
    expect(repaired.err).toMatch(/TAMPERED: node_mismatch .*\nrepaired: 7 stored subtree hashes of transparency\.db written again from its leaves/);
    expect(repaired.out).toMatch(/^ok: 8 stored events match the transparency log/);
    const exported = await exportStream(dir);
    expect(exported.code, exported.err).toBe(0);
  });

  it('--repair-nodes is refused while another process holds the data folder (a service keeps the tree edge in memory)', async () => {
    const dir = await folder();
    onLog(dir, (db) => db.prepare('UPDATE nodes SET hash = randomblob(32) WHERE level = 2 AND idx = 1').run());
    const held = lockDataFolder(dir);
    try {
      const result = await run(verifyCommand, ['--data', dir, '--key', readFileSync(join(dir, 'transparency.pub'), 'utf8').trim(), '--repair-nodes']);
      expect(result.code).toBe(1);
      expect(result.err).toMatch(/is in use by .*stop that service first/);
      expect(result.err).not.toMatch(/repaired/);
    } finally {
      held.release();
    }
    expect((await verifyData(dir)).code).toBe(1);
  });

  it('--repair-nodes repairs nothing when the audit finds more than a stored subtree hash', async () => {
    const dir = await folder();
    const before = readFileSync(join(dir, 'transparency.db'));
    const events = new Database(join(dir, 'events.db'));
    events.prepare(`UPDATE events SET data = json_set(data, '$.label', 'forged') WHERE position = 3`).run();
    events.close();
    const result = await run(verifyCommand, ['--data', dir, '--key', readFileSync(join(dir, 'transparency.pub'), 'utf8').trim(), '--repair-nodes']);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/TAMPERED: edited/);
    expect(result.err).not.toMatch(/repaired/);
    expect(readFileSync(join(dir, 'transparency.db')).equals(before)).toBe(true);
  });

  it('fails on a missing interior hash', async () => {
    const dir = await folder();
    onLog(dir, (db) => db.prepare('DELETE FROM nodes WHERE level = 1 AND idx = 0').run());
    const result = await verifyData(dir);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/node_mismatch .*level 1, index 0 \(leaves 0 to 1\) is missing/);
  });

  it('reports a torn page of the nodes table as a damaged transparency.db, in verify --data and in export', async () => {
    const dir = await folder();
    let page = 0;
    let size = 0;
    onLog(dir, (db) => {
      db.pragma('wal_checkpoint(TRUNCATE)');
      page = Number(db.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'nodes'").pluck().get());
      size = Number(db.pragma('page_size', { simple: true }));
    });
    const fd = openSync(join(dir, 'transparency.db'), 'r+');
    writeSync(fd, Buffer.alloc(size, 0xa5), 0, size, (page - 1) * size);
    closeSync(fd);

    const result = await verifyData(dir);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/DAMAGED: the database \S*transparency\.db is damaged \(SQLITE_CORRUPT\w*: .*restore it from a backup/);
    const exported = await exportStream(dir);
    expect(exported.code).toBe(1);
    expect(exported.err).toMatch(/refused \(damaged_database\): the database \S*transparency\.db is damaged \(SQLITE_CORRUPT\w*: .*restore it from a backup/);
  });

  it('reports a transparency.db that is no database at all as damaged (1), not as bad usage (2)', async () => {
    const dir = await folder();
    const fd = openSync(join(dir, 'transparency.db'), 'r+');
    writeSync(fd, Buffer.alloc(100, 0x5a), 0, 100, 0);
    closeSync(fd);
    const result = await verifyData(dir);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/DAMAGED: the database \S*transparency\.db is damaged \(SQLITE_NOTADB: /);
  });
});
