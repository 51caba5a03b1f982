/**
 * Review 49: a Ctrl-C during `npm start` while "no issuing CA: one is made first" was printed (no service running,
 * between the start that found the store empty and the one that loads the new CA) was swallowed as the echo npm sends
 * of one: the demo ran in full and served until a second Ctrl-C. A signal with no service to stop now stops the
 * start-up, once the CA being made is whole: exit 0, the folder keeping it.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { temporaryFolders } from './support/temp-dirs.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const scratch = temporaryFolders('credence-start-ctrl-c-');

/** The environment without what would move the server elsewhere (a PORT or CREDENCE_ setting of the shell). */
const cleanEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'PORT' && !name.startsWith('CREDENCE_')));

describe('npm start on a fresh folder, Ctrl-C while its issuing CA is made', () => {
  it('stops the start-up instead of running the demo and serving', async () => {
    const data = join(scratch(), 'data');
    const child = spawn(process.execPath, ['bin/credence.mjs', 'start', '--data', data, '--port', '0'], {
      cwd: ROOT,
      env: cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let signalled = false;
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (!signalled && out.includes('one is made first')) {
        signalled = true;
        child.kill('SIGINT');
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    // Bounded: without the fix it serves until killed; the demo alone takes longer than this.
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
    clearTimeout(timer);
    expect(signalled).toBe(true);
    expect(signal, `${out}\n${err}`).toBeNull();
    expect(code, err).toBe(0);
    expect(out).toContain('Credence stopped before the demo');
    expect(out).not.toContain('demo fleet runs first');
    expect(out).not.toContain('TOKEN');
    // The CA being made when the signal came is whole and kept, as the rest of the flow keeps the folder.
    expect(existsSync(join(data, 'pki', 'default.ca.json'))).toBe(true);
  }, 90_000);
});
