import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { cmd } from './support/fleet.ts';
import { moveTransparencyLogAside } from './support/restored-folder.ts';
import { startTestService, type TestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * README, "Restoring the event store from a backup", followed step by step on a data folder whose service was killed
 * (found in review 27): the procedure said nothing of events.db-wal, so a stale WAL left by the kill was replayed
 * over the backup and the restore silently did not happen; nothing said to delete replay-checkpoint.json, so
 * `credence replay` exited 1 at every run after it; and the new log started under the old key, contradicting the
 * checkpoints the old log had signed. Here: the backups taken as documented while the service runs, the restored
 * store holds exactly the backup's events, replay passes once the checkpoint file is deleted, and the new log is
 * signed under a new key while the old log, moved aside with its key, still audits against its own events.
 */
const REPO = fileURLToPath(new URL('..', import.meta.url));
const folder = temporaryFolders('credence-restore-as-documented-');

const eventIds = async (dir: string): Promise<string[]> => {
  const store = openSqliteStoreInDir(dir, { durability: 'normal' });
  try {
    const ids: string[] = [];
    for await (const event of store.readAll()) ids.push(event.id);
    return ids;
  } finally {
    await store.close();
  }
};

const registerNodes = async (svc: TestService, ids: readonly string[]): Promise<void> => {
  let last = 0n;
  for (const id of ids) last = (await svc.service.context.credence.engine.execute(cmd.registerNode(id))).events.at(-1)!.position;
  if (!(await svc.service.context.live.caughtUp(last, 30_000))) throw new Error('the live runtime did not catch up');
};

/** How many events the events table of `dir`'s store holds, and SQLite's integrity check of it, as a writer opens it. */
const examine = (dir: string): { events: number; integrity: unknown } => {
  const db = new Database(join(dir, 'events.db'));
  try {
    const { n } = db.prepare('SELECT count(*) AS n FROM events').get() as { n: number };
    return { events: n, integrity: db.pragma('integrity_check', { simple: true }) };
  } finally {
    db.close();
  }
};

/** What the CLI says and its exit code. */
const credence = async (...argv: string[]): Promise<{ code: number; out: string }> => {
  const { io, out, err } = capture();
  const code = await main(argv, io);
  return { code, out: [...out, ...err].join('\n') };
};

/** The latest checkpoint the log of `dir` signed (the service signs one over everything logged when it stops). */
const latestCheckpoint = (dir: string): { size: number; note: string } => {
  const db = new Database(join(dir, 'transparency.db'), { readonly: true });
  try {
    const row = db.prepare('SELECT tree_size AS size, note FROM checkpoints ORDER BY tree_size DESC LIMIT 1').get() as { size: number; note: string };
    return row;
  } finally {
    db.close();
  }
};

/** A process that appends to the store of `dir` and is killed (SIGKILL) before it closes it: its WAL stays. */
const killedWhileWriting = (dir: string, nodeIds: readonly string[]): void => {
  const script = `
    import { openSqliteStoreInDir } from './adapters/driven/store/index.ts';
    import { fixture, cmd } from './test/support/fleet.ts';
    const f = fixture(openSqliteStoreInDir(${JSON.stringify(dir)}, { durability: 'normal' }));
    for (const id of ${JSON.stringify(nodeIds)}) await f.engine.execute(cmd.registerNode(id));
    process.kill(process.pid, 'SIGKILL');`;
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO, encoding: 'utf8' });
  expect(run.signal, run.stderr).toBe('SIGKILL');
};

describe('the event store restored as README says', () => {
  it('holds the backup\'s events, replays clean, and starts a new log under a new key', async () => {
    const data = folder();
    const backups = folder();
    const aside = folder();

    // The backups, taken as documented while the service runs and writes.
    let svc = await startTestService({ dir: data });
    await registerNodes(svc, ['meter-1', 'meter-2']);
    // Without the sqlite3 command: the node one-liner, from the Credence folder.
    const vacuum = spawnSync(
      process.execPath,
      ['-e', `require('better-sqlite3')(${JSON.stringify(join(data, 'events.db'))}, { readonly: true }).exec("VACUUM INTO '${join(backups, 'vacuumed.db')}'")`],
      { cwd: REPO, encoding: 'utf8' },
    );
    expect(vacuum.status, vacuum.stderr).toBe(0);
    const sqlite3 = spawnSync('sqlite3', [join(data, 'events.db'), `.backup '${join(backups, 'backed-up.db')}'`], { encoding: 'utf8' });
    const withCli = sqlite3.error === undefined; // the sqlite3 command may not be installed
    if (withCli) expect(sqlite3.status, sqlite3.stderr).toBe(0);
    await registerNodes(svc, ['meter-3', 'meter-4', 'meter-5', 'meter-6']);
    await svc.close();
    // A clean stop leaves no WAL.
    expect(readdirSync(data).filter((name) => name.endsWith('-wal'))).toEqual([]);

    const backupFiles = [join(backups, 'vacuumed.db'), ...(withCli ? [join(backups, 'backed-up.db')] : [])];
    const backupIds: string[][] = [];
    for (const file of backupFiles) {
      const opened = folder();
      copyFileSync(file, join(opened, 'events.db'));
      backupIds.push(await eventIds(opened));
    }
    expect(backupIds[0]!.length).toBeGreaterThanOrEqual(2);
    for (const ids of backupIds) expect(ids).toEqual(backupIds[0]);
    const backupFile = backupFiles.at(-1)!;

    // What an auditor kept of the old log, its key, and a replay checkpoint at its head.
    const old = { checkpoint: latestCheckpoint(data), pub: readFileSync(join(data, 'transparency.pub'), 'utf8') };
    const beforeTheKill = await eventIds(data);
    expect(beforeTheKill.slice(0, backupIds[0]!.length)).toEqual(backupIds[0]);
    expect(old.checkpoint.size).toBe(beforeTheKill.length);
    writeFileSync(join(backups, 'audited-checkpoint.txt'), old.checkpoint.note);
    expect((await credence('replay', '--data', data)).code).toBe(0);
    expect(existsSync(join(data, 'replay-checkpoint.json'))).toBe(true);

    // Then a process is killed while it writes: its WAL stays beside events.db.
    killedWhileWriting(data, ['meter-7', 'meter-8']);
    expect(statSync(join(data, 'events.db-wal')).size).toBeGreaterThan(0);

    // Not as documented: the backup copied over events.db alone. SQLite replays the stale WAL over it.
    const careless = folder();
    for (const name of ['events.db-wal', 'events.db-shm']) copyFileSync(join(data, name), join(careless, name));
    copyFileSync(backupFile, join(careless, 'events.db'));
    // The WAL's pages mix with the backup's: the store may even read as the backup (its head from an index page of the
    // backup) over a table that holds the lost events.
    expect(examine(careless)).not.toEqual({ events: backupIds[0]!.length, integrity: 'ok' });

    // Step 1: the old file moved aside with its WAL and shared memory, together.
    for (const name of ['events.db', 'events.db-wal', 'events.db-shm']) renameSync(join(data, name), join(aside, name));
    // Step 2: the backup put in place.
    copyFileSync(backupFile, join(data, 'events.db'));
    expect(examine(data)).toEqual({ events: backupIds[0]!.length, integrity: 'ok' });
    expect(await eventIds(data)).toEqual(backupIds[0]);
    // Step 3: without it, replay reports the history altered at every run.
    const kept = await credence('replay', '--data', data);
    expect(kept.code).toBe(1);
    expect(kept.out).toMatch(/history altered/);
    rmSync(join(data, 'replay-checkpoint.json'));
    expect((await credence('replay', '--data', data)).code).toBe(0);
    expect((await credence('replay', '--data', data)).code).toBe(0);
    // Not as documented: only transparency.db moved aside. A new log would be signed under the old key, and an auditor
    // who kept a checkpoint of the old log would see it contradicted, as tampering would (review 84: it started so,
    // without a word). The start is refused, naming what to move with it, and makes no log.
    const sameKey = folder();
    cpSync(data, sameKey, { recursive: true });
    for (const name of readdirSync(sameKey).filter((n) => n.startsWith('transparency.db'))) rmSync(join(sameKey, name));
    await expect(startTestService({ dir: sameKey })).rejects.toThrow(/holds the transparency log key \(transparency\.handle\) but not its log[\s\S]*step 4/);
    expect(existsSync(join(sameKey, 'transparency.db'))).toBe(false);
    expect(readFileSync(join(sameKey, 'transparency.pub'), 'utf8')).toBe(old.pub);

    // Step 4: the log moved aside with its key's handle (the key is in the embedded Secure Environment) and public key.
    moveTransparencyLogAside(data, aside);
    expect(readdirSync(aside).filter((n) => n.startsWith('transparency.')).sort()).toEqual(expect.arrayContaining(['transparency.db', 'transparency.handle', 'transparency.pub']));

    // Step 5: the service starts a new log, under a new key, over the restored history.
    svc = await startTestService({ dir: data });
    await registerNodes(svc, ['meter-9']);
    await svc.close();
    const renewed = { checkpoint: latestCheckpoint(data), pub: readFileSync(join(data, 'transparency.pub'), 'utf8') };
    const restored = await eventIds(data);
    expect(restored.slice(0, backupIds[0]!.length)).toEqual(backupIds[0]);
    expect(restored.some((id) => beforeTheKill.slice(backupIds[0]!.length).includes(id))).toBe(false);
    expect(renewed.checkpoint.size).toBe(restored.length);
    expect(renewed.pub).not.toBe(old.pub);
    expect((await credence('verify', '--data', data, '--key', join(data, 'transparency.pub'))).code).toBe(0);
    // Under the old key, the new log is not the old one: no checkpoint of it verifies, rather than a fork.
    expect((await credence('verify', '--data', data, '--key', join(aside, 'transparency.pub'))).code).not.toBe(0);
    // The auditor's checkpoint of the old log is not taken for one of the new log: another key, not tampering.
    const otherKey = await credence('verify', '--data', data, '--key', join(data, 'transparency.pub'), '--checkpoint', join(backups, 'audited-checkpoint.txt'));
    expect(otherKey.code).toBe(2);
    expect(otherKey.out).not.toMatch(/TAMPERED/);
    // The old log, kept aside with its own events and key, still proves what it logged, to the auditor's checkpoint.
    const audit = await credence('verify', '--data', aside, '--key', join(aside, 'transparency.pub'), '--checkpoint', join(backups, 'audited-checkpoint.txt'));
    expect(audit.code, audit.out).toBe(0);
  }, 180_000);
});
