import { createHash } from 'node:crypto';
import { cpSync, existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { readOnlyDatabase } from '../adapters/driven/files/read-only-database.ts';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { cmd } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review: `credence verify --data D` left empty events.db-wal/-shm and transparency.db-wal/-shm in a folder whose
 * service had stopped cleanly (none were there before), and `credence key list` keys.db's and access.db's: a
 * read-only SQLite connection to a WAL file makes them and cannot remove them at close. An auditor checks a copy of
 * a folder, and expects a read to change nothing: the same files, the same bytes, modes and times after as before.
 * (The folder's own mtime is not compared: a file SQLite makes and removes again, or the lock key list takes, moves
 * it; what is in the folder does not change.)
 */
const scratch = temporaryFolders('credence-read-leaves-folder-');

/** Every file and folder under `dir`: its kind, size, mode, mtime and (for a file) a digest of its bytes. */
const snapshot = (dir: string): Record<string, string> => {
  const found: Record<string, string> = {};
  const walk = (at: string): void => {
    for (const name of readdirSync(at).sort()) {
      const path = join(at, name);
      const stat = lstatSync(path);
      if (stat.isDirectory()) {
        found[relative(dir, path)] = `folder ${stat.mode.toString(8)}`;
        walk(path);
      } else {
        const digest = createHash('sha256').update(readFileSync(path)).digest('hex');
        found[relative(dir, path)] = `${stat.size} ${stat.mode.toString(8)} ${stat.mtimeMs} ${digest}`;
      }
    }
  };
  walk(dir);
  return found;
};

const credence = async (argv: readonly string[]): Promise<{ code: number; said: string; out: string }> => {
  const { io, out, err } = capture();
  const code = await main([...argv], { ...io, env: {} });
  return { code, said: [...out, ...err].join('\n'), out: out.join('\n') };
};

/** Waits until the live runtime has projected the store's head, events it appended itself (a pseudonym) included. */
const settled = async (svc: TestService): Promise<void> => {
  for (;;) {
    const head = await svc.service.context.credence.store.headPosition();
    if (head === undefined) return;
    if (!(await svc.service.context.live.caughtUp(head, 30_000))) throw new Error('the live runtime did not catch up');
    if ((await svc.service.context.credence.store.headPosition()) === head) return;
  }
};

/**
 * A folder a service made, served one node, and left by a clean stop, its read models at the head: no -wal or -shm
 * in it, nothing for a command that keeps read models to bring up to date.
 */
const stoppedFolder = async (): Promise<string> => {
  const dir = join(scratch(), 'data');
  const svc = await startTestService({ dir });
  await svc.service.context.credence.engine.execute(cmd.registerNode('meter-1'));
  await settled(svc);
  await svc.close();
  expect(readdirSync(dir).filter((name) => /-(wal|shm|journal)$/.test(name))).toEqual([]);
  return dir;
};

describe('a command that only reads a data folder a service left cleanly', () => {
  const commands: readonly (readonly [string, (dir: string) => string[]])[] = [
    ['verify --data', (dir) => ['verify', '--data', dir]],
    ['key list', (dir) => ['key', 'list', '--data', dir]],
    ['history', (dir) => ['history', 'node-meter-1', '--data', dir]],
    ['state', (dir) => ['state', 'node-meter-1', '--at', '2100-01-01T00:00:00Z', '--data', dir]],
    ['token list --data', (dir) => ['token', 'list', '--data', dir]],
    ['ca show', (dir) => ['ca', 'show', '--data', dir]],
    // Brings the read models up to the head under the folder's lock: of a folder its service left caught up, nothing.
    ['query --data', (dir) => ['query', 'revocations', '--data', dir]],
  ];

  it.each(commands.map(([name, argv]) => ({ name, argv })))('$name leaves every file of a copy of it as it was, and no file beside them', async ({ argv }) => {
    const copy = join(scratch(), 'copy');
    cpSync(await stoppedFolder(), copy, { recursive: true, preserveTimestamps: true });
    const before = snapshot(copy);
    const run = await credence(argv(copy));
    expect(run.code, run.said).toBeLessThan(2);
    expect(snapshot(copy)).toEqual(before);
  });

  it('replay changes nothing but the replay-checkpoint.json it writes by design', async () => {
    const copy = join(scratch(), 'copy');
    cpSync(await stoppedFolder(), copy, { recursive: true, preserveTimestamps: true });
    const before = snapshot(copy);
    const run = await credence(['replay', '--data', copy]);
    expect(run.code, run.said).toBe(0);
    const after = snapshot(copy);
    expect(after['replay-checkpoint.json']).toBeDefined();
    delete after['replay-checkpoint.json'];
    expect(after).toEqual(before);
  });

  it('verify --data still audits a folder beside its running service, whose -wal and -shm stay and whose later writes are read', async () => {
    const dir = await stoppedFolder();
    const svc = await startTestService({ dir });
    try {
      // What the service appends itself as it starts (a pseudonym, a reaction) is in the first audit, not counted as
      // the register's (flaky under load: one more event than the register's in the second audit).
      await settled(svc);
      const first = await credence(['verify', '--data', dir, '--json']);
      expect(first.code, first.said).toBe(0);
      const checked = (JSON.parse(first.out) as { checkedEvents: number }).checkedEvents;
      // The service's own files: still there for it, and it goes on writing through them.
      expect(existsSync(join(dir, 'events.db-wal')) && existsSync(join(dir, 'events.db-shm'))).toBe(true);
      const { events } = await svc.service.context.credence.engine.execute(cmd.registerNode('meter-2'));
      expect(await svc.service.context.live.caughtUp(events.at(-1)!.position, 30_000)).toBe(true);
      await settled(svc);
      const second = await credence(['verify', '--data', dir, '--json']);
      expect(second.code, second.said).toBe(0);
      // What the service wrote since, from its WAL or checkpointed: the register's events are audited too, and those
      // the service appended in reaction to it (its pseudonym): every event the store holds now.
      let stored = 0;
      for await (const _ of svc.service.context.credence.store.readAll()) stored += 1;
      expect(stored).toBeGreaterThanOrEqual(checked + events.length);
      expect(JSON.parse(second.out)).toMatchObject({ ok: true, checkedEvents: stored });
    } finally {
      await svc.close();
    }
  });
});

describe('readOnlyDatabase', () => {
  it('beside a writer that holds the file open, reads what it wrote but did not checkpoint, and leaves its -wal and -shm', () => {
    const path = join(scratch(), 'records.db');
    const writer = new Database(path);
    try {
      writer.pragma('journal_mode = WAL');
      writer.pragma('wal_autocheckpoint = 0');
      writer.exec('CREATE TABLE records (n INTEGER)');
      writer.prepare('INSERT INTO records VALUES (?)').run(7);
      const walBefore = lstatSync(`${path}-wal`).size;
      expect(walBefore).toBeGreaterThan(0);
      expect(readOnlyDatabase(path, (db) => db.prepare('SELECT n FROM records').pluck().all())).toEqual([7]);
      expect(lstatSync(`${path}-wal`).size).toBe(walBefore);
      expect(existsSync(`${path}-shm`)).toBe(true);
      writer.prepare('INSERT INTO records VALUES (?)').run(8);
      expect(writer.prepare('SELECT count(*) FROM records').pluck().get()).toBe(2);
    } finally {
      writer.close();
    }
  });

  it('on a file a killed writer left with a WAL, reads what it committed and leaves the file and its WAL byte for byte', () => {
    const live = join(scratch(), 'live.db');
    const writer = new Database(live);
    const left = join(scratch(), 'left');
    try {
      writer.pragma('journal_mode = WAL');
      writer.pragma('wal_autocheckpoint = 0');
      writer.exec('CREATE TABLE records (n INTEGER)');
      writer.prepare('INSERT INTO records VALUES (?)').run(7);
      // The files as a kill leaves them: the database and a WAL holding the commits not yet checkpointed into it.
      cpSync(live, join(left, 'records.db'), { preserveTimestamps: true });
      cpSync(`${live}-wal`, join(left, 'records.db-wal'), { preserveTimestamps: true });
    } finally {
      writer.close();
    }
    const before = snapshot(left);
    expect(readOnlyDatabase(join(left, 'records.db'), (db) => db.prepare('SELECT n FROM records').pluck().all())).toEqual([7]);
    const after = snapshot(left);
    // Its WAL index is SQLite's to make for any reader; the database and the WAL it judges are not touched.
    delete after['records.db-shm'];
    expect(after).toEqual(before);
  });

  it('refuses every write of its reader: the connection only reads', () => {
    const path = join(scratch(), 'records.db');
    const writer = new Database(path);
    writer.pragma('journal_mode = WAL');
    writer.exec('CREATE TABLE records (n INTEGER)');
    writer.close();
    expect(() => readOnlyDatabase(path, (db) => db.exec('INSERT INTO records VALUES (1)'))).toThrow();
    expect(readOnlyDatabase(path, (db) => db.prepare('SELECT count(*) FROM records').pluck().get())).toBe(0);
    expect(readdirSync(join(path, '..')).filter((name) => name.startsWith('records.db-'))).toEqual([]);
  });
});
