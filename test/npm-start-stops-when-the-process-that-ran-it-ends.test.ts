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

describe('credence start under a shell that does not exec it', () => {
  it('stops gracefully once that shell is gone, releasing its data folder', async () => {
    const data = join(scratch(), 'data');
    const shell = spawn('/bin/sh', ['-c', `"${process.execPath}" bin/credence.mjs start --data "${data}" --port 0; true`], {
      cwd: ROOT,
      env: cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let node: number | undefined;
    // The pipes stay open while node, which inherited them, runs: their end is node's.
    const ended = new Promise<void>((resolve) => shell.stdout.on('close', resolve));
    shell.stderr.resume();
    shell.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (node === undefined && out.includes('Credence stopped') === false && /TOKEN=/.test(out)) {
        node = Number(execFileSync('ps', ['-o', 'pid=', '--ppid', String(shell.pid)]).toString().trim().split(/\s+/)[0]);
        shell.kill('SIGKILL');
      }
    });
    // Bounded: without the fix node serves until killed.
    const timer = setTimeout(() => {
      if (node !== undefined) process.kill(node, 'SIGKILL');
      shell.kill('SIGKILL');
    }, 80_000);
    await ended;
    clearTimeout(timer);
    expect(node, out).toBeGreaterThan(0);
    expect(out).toContain(`Credence stopped; ${data} keeps everything.`);
  }, 120_000);
});
