import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { closedPort as freePort } from './support/closed-port.ts';

/*
 * Found in review: `credence serve 2>&1 | true` (a log pipeline gone at start) hung: the startup lines' EPIPE on
 * stderr was an uncaught error, the service never answered, and SIGTERM did not stop it. What goes to stderr is for
 * whoever watches; a reader that went away is no reason to stop, nor to hang.
 */

const dir = mkdtempSync(join(tmpdir(), 'credence-serve-epipe-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const serves = async (stdio: ['ignore', 'pipe' | 'ignore' | number, 'pipe' | number], gone: (child: ReturnType<typeof spawn>) => void): Promise<void> => {
  const port = await freePort();
  const child = spawn(process.execPath, [join(import.meta.dirname, '..', 'bin', 'credence.mjs'), 'serve', '--data', join(dir, `data-${port}`), '--port', String(port)], {
    stdio,
    env: { ...process.env, PORT: '', CREDENCE_URL: '' },
  });
  gone(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await expect
      .poll(async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.status, { timeout: 60_000, interval: 250 })
      .toBe(200);
    // Still serving a moment later: the startup lines' failed writes ended nothing.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    child.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 20_000).unref())]);
    expect(code).toBe(0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
};

describe('credence serve with stderr going nowhere', () => {
  it.skipIf(!existsSync('/dev/full'))('serves with stderr on a full device, and stops on SIGTERM (found in review: it ended)', async () => {
    const full = openSync('/dev/full', 'w');
    try {
      await serves(['ignore', 'ignore', full], () => undefined);
    } finally {
      closeSync(full);
    }
  }, 90_000);
});

describe('credence serve with its stdout and stderr readers gone', () => {
  it('serves, and stops on SIGTERM', async () => {
    // Both readers gone before the service writes a line: every write to either is EPIPE.
    await serves(['ignore', 'pipe', 'pipe'], (child) => {
      child.stdout!.destroy();
      child.stderr!.destroy();
    });
  }, 90_000);
});
