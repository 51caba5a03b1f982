/**
 * Review 256: `npm start` runs node under `sh -c`, and Debian's sh (dash) does not exec its last command; npm hands
 * SIGTERM and SIGINT to that sh alone, so a `kill <npm>`, a supervisor's stop or `docker stop` ended sh and npm and left
 * node serving with no parent, holding the data folder's lock. `start` now stops gracefully once the process that ran
 * it is gone. A shell that cannot exec (`; true` after the command) killed outright stands for sh here.
 */
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { temporaryFolders } from './support/temp-dirs.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const scratch = temporaryFolders('credence-start-orphaned-');

/** The environment without what would move the server elsewhere (a PORT or CREDENCE_ setting of the shell). */
const cleanEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'PORT' && !name.startsWith('CREDENCE_')));

/** Resolves once the shell `pid` has a child (node, which it does not exec), looking every 50 ms for up to 60 s. */
const nodeUnder = async (pid: number): Promise<void> => {
  for (const end = Date.now() + 60_000; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
    try {
      if (execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)]).toString().trim() !== '') return;
    } catch {
      // ps exits 1 when the shell has no child yet.
    }
  }
};

/**
 * `start` as npm runs it (npm_lifecycle_event set) under a shell that cannot exec it; the shell is killed once `ready`
 * says so. Resolves with what it printed, once its pipes close (node inherited them, so their end is node's).
 */
const orphanedStart = async (data: string, ready: (out: string) => boolean): Promise<{ out: string; node: number | undefined }> => {
  const shell = spawn('/bin/sh', ['-c', `"${process.execPath}" bin/credence.mjs start --data "${data}" --port 0; true`], {
    cwd: ROOT,
    env: { ...cleanEnv(), npm_lifecycle_event: 'start' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let node: number | undefined;
  const ended = new Promise<void>((resolve) => shell.stdout.on('close', resolve));
  shell.stderr.resume();
  const killShell = (): void => {
    if (node !== undefined) return;
    node = Number(execFileSync('ps', ['-o', 'pid=', '--ppid', String(shell.pid)]).toString().trim().split(/\s+/)[0]);
    shell.kill('SIGKILL');
  };
  shell.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    if (ready(out)) killShell();
  });
  // Killed 800 ms after node runs, not after the shell was spawned: a loaded machine took longer than that to fork it.
  if (ready('')) void nodeUnder(shell.pid!).then(() => setTimeout(killShell, 800));
  // Bounded: without the fix node serves until killed.
  const timer = setTimeout(() => {
    if (node !== undefined && node > 0) process.kill(node, 'SIGKILL');
    shell.kill('SIGKILL');
  }, 110_000);
  await ended;
  clearTimeout(timer);
  return { out, node };
};

describe('credence start run by npm under a shell that does not exec it', () => {
  it('stops gracefully once that shell is gone, releasing its data folder', async () => {
    const data = join(scratch(), 'data');
    const { out, node } = await orphanedStart(data, (printed) => /TOKEN=/.test(printed));
    expect(node, out).toBeGreaterThan(0);
    expect(out).toContain(`Credence stopped; ${data} keeps everything.`);
  }, 120_000);

  it('stops too when the shell went during its start-up, before it served (review 261)', async () => {
    const data = join(scratch(), 'data');
    const { out, node } = await orphanedStart(data, () => true);
    expect(node, out).toBeGreaterThan(0);
    // Said as any stop there is said: before the demo (its CA being made), during it, or once it serves.
    expect(out).toMatch(/Credence stopped before the demo|Stopped during the demo|Credence stopped;/);
  }, 120_000);
});
