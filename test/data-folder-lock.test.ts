import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { serviceConfig } from '../adapters/http/config.ts';
import { startService } from '../adapters/http/start.ts';
import { isCredenceError, SERVICE_LOCK_FILE } from '../adapters/runtime/index.ts';

const dirs: string[] = [];
const freshDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-lock-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const config = (data: string) => serviceConfig({ host: '127.0.0.1', port: 0, logLevel: 'silent', data });

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

  it('takes over the lock of a service that died without releasing it', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, SERVICE_LOCK_FILE), JSON.stringify({ pid: deadPid(), host: hostname(), startedAt: new Date(0).toISOString() }));
    const service = await startService(config(dir));
    await service.close();
    expect(existsSync(join(dir, SERVICE_LOCK_FILE))).toBe(false);
  });

  it('refuses a lock held on another host, which cannot be checked from here', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, SERVICE_LOCK_FILE), JSON.stringify({ pid: 1, host: 'elsewhere.example', startedAt: new Date(0).toISOString() }));
    await expect(startService(config(dir))).rejects.toThrow(/in use by process 1 on elsewhere\.example/);
  });
});
