import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { lockDataFolder } from '../adapters/runtime/index.ts';
import { serviceConfig } from '../adapters/http/config.ts';
import { startService } from '../adapters/http/start.ts';
import { isCredenceError, SERVICE_LOCK_FILE } from '../adapters/runtime/index.ts';

const dirs: string[] = [];
const freshDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-lock-'));
  dirs.push(dir);
  return dir;
};
const children: ChildProcessWithoutNullStreams[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const CHILD = fileURLToPath(new URL('./support/folder-lock-child.ts', import.meta.url));
/** A process trying the folder's lock at `at`; resolves with what it printed (`GOT`, or `HELD <holder>`) and the child. */
const tryInChild = (dir: string, at = 0, holdMs = 60_000): { child: ChildProcessWithoutNullStreams; said: Promise<string> } => {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, String(at), String(holdMs)]);
  children.push(child);
  let out = '';
  let err = '';
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const said = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
    child.on('exit', (code) => reject(new Error(`lock child ended (${code}) before it said anything: ${err}`)));
  });
  return { child, said };
};

const config = (data: string) => serviceConfig({ host: '127.0.0.1', port: 0, logLevel: 'silent', data });

/** Tells a lock child to let go of what it got (its release, as at the end of its hold) and waits for it to exit. */
const letGo = (child: ChildProcessWithoutNullStreams): Promise<unknown> => {
  const exited = child.exitCode !== null ? Promise.resolve(null) : new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  return exited;
};

/** The pid of a process that has certainly ended: a child that ran and exited. */
const deadPid = (): number => {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
};

describe('one service per data folder', () => {
  it('refuses a second service on a folder in use, naming the folder and the process, and opens nothing', async () => {
    const dir = freshDir();
    const first = await startService(config(dir));
    try {
      const error = await startService(config(dir)).catch((e: unknown) => e);
      expect(isCredenceError(error, 'validation')).toBe(true);
      expect((error as Error).message).toContain(`process ${process.pid}`);
      expect(JSON.stringify((error as { problem: unknown }).problem)).toContain('"rule":"unlocked"');
      // The first service is untouched by the refused start.
      expect((await fetch(`${first.url}/healthz`)).status).toBe(200);
    } finally {
      await first.close();
    }
    expect(existsSync(join(dir, SERVICE_LOCK_FILE))).toBe(false);
  });

  it('a holder file a dead service left behind holds nothing, whatever it names: a dead pid, a pid reused by a live process, another host, or nothing', async () => {
    for (const left of [
      JSON.stringify({ pid: deadPid(), host: hostname(), startedAt: new Date(0).toISOString() }),
      // pid 1 in a container restarted after a kill, or a pid the system gave again after a reboot: alive, not the holder.
      JSON.stringify({ pid: process.pid, host: hostname(), startedAt: new Date(0).toISOString() }),
      JSON.stringify({ pid: 1, host: 'elsewhere.example', startedAt: new Date(0).toISOString() }),
      // A crash (or a power loss) between creating the file and writing it.
      '',
    ]) {
      const dir = freshDir();
      writeFileSync(join(dir, SERVICE_LOCK_FILE), left);
      const service = await startService(config(dir));
      await service.close();
      expect(existsSync(join(dir, SERVICE_LOCK_FILE))).toBe(false);
    }
  });

  it('honours the lock file of a running service of the earlier version, and only while that process lives', async () => {
    // Found in review: that version holds the folder by service.lock alone, and never opens service-lock.db.
    const dir = freshDir();
    const earlier = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    children.push(earlier as never);
    await new Promise((resolve) => earlier.once('spawn', resolve));
    const legacy = (pid: number, startedAt: Date) => writeFileSync(join(dir, SERVICE_LOCK_FILE), JSON.stringify({ pid, host: hostname(), startedAt: startedAt.toISOString() }));
    legacy(earlier.pid!, new Date());
    expect(() => lockDataFolder(dir)).toThrow(new RegExp(`in use by process ${earlier.pid} on .*an earlier version of Credence`));
    // A file written before the process named started is another process's, whose pid came back: after a reboot,
    // or pid 1 in a restarted container (found in review: such a file refused the folder for good).
    legacy(earlier.pid!, new Date(Date.now() - 3_600_000));
    lockDataFolder(dir).release();
    legacy(1, new Date(0));
    lockDataFolder(dir).release();
    // A holder file of this lock naming a live process holds nothing by itself: the system's lock is what holds.
    writeFileSync(join(dir, SERVICE_LOCK_FILE), JSON.stringify({ pid: earlier.pid, host: hostname(), lock: 'service-lock.db', startedAt: new Date(0).toISOString() }));
    lockDataFolder(dir).release();
    legacy(earlier.pid!, new Date());
    const gone = new Promise((resolve) => earlier.on('exit', resolve));
    earlier.kill('SIGKILL');
    await gone;
    lockDataFolder(dir).release();
  });

  it('is held by a live process in another, and free the moment that process is killed', async () => {
    const dir = freshDir();
    const holder = tryInChild(dir);
    expect(await holder.said).toBe('GOT');
    expect(await tryInChild(dir).said).toBe(`HELD process ${holder.child.pid} on ${hostname()}`);
    expect(() => lockDataFolder(dir)).toThrow(new RegExp(`in use by process ${holder.child.pid} on`));
    const gone = new Promise((resolve) => holder.child.on('exit', resolve));
    holder.child.kill('SIGKILL');
    await gone;
    const lock = lockDataFolder(dir);
    expect(await tryInChild(dir).said).toBe(`HELD process ${process.pid} on ${hostname()}`);
    lock.release();
  }, 60_000);

  it('goes to exactly one of several processes that try it at the same instant, a dead holder\'s file in place', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, SERVICE_LOCK_FILE), JSON.stringify({ pid: deadPid(), host: hostname(), startedAt: new Date(0).toISOString() }));
    for (let round = 0; round < 2; round++) {
      const at = Date.now() + 2_500;
      // Held until every child has said what it got, and let go only then: on a loaded machine a child can start its
      // try a second or more after the instant, and one that came after a 1 s hold had ended got the lock too (seen in
      // a full run beside three other test processes). A timed hold (it was 8 s) made each round wait it out.
      const tries = Array.from({ length: 6 }, () => tryInChild(dir, at));
      const said = await Promise.all(tries.map((t) => t.said));
      expect(said.filter((s) => s === 'GOT'), said.join(', ')).toHaveLength(1);
      // Let go as the end of the hold did: the one that got it releases it, and the next round starts on a free folder.
      await Promise.all(tries.map((t) => letGo(t.child)));
    }
    // Twelve processes started, each loading the lock's code: 60 s was too short for a full CI run on a loaded machine.
  }, 120_000);
});
