/**
 * Review 256: `npm start` runs node under `sh -c`, and Debian's sh (dash) does not exec its last command; npm hands
 * SIGTERM and SIGINT to that sh alone, so a `kill <npm>`, a supervisor's stop or `docker stop` ended sh and npm and left
 * node serving with no parent, holding the data folder's lock. `start` now stops gracefully once the process that ran
 * it is gone. A shell that cannot exec (`; true` after the command) killed outright stands for sh here. Review 445: a
 * shell gone before node's first line ran left node adopted at once (by PID 1 or a subreaper), and the parent it
 * recorded was that one, there for ever: `start` served on. Review 452: a shell running another command, with npm among
 * its ancestors (`npm exec -c 'make e2e'`, a `./e2e.sh`), is npm's too: `start` serves on under it. When the watch
 * stops `start` it says why on stderr.
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

/** `start` on `data`, as the script's command. */
const startCommand = (data: string): string => `"${process.execPath}" bin/credence.mjs start --data "${data}" --port 0`;

/** The environment npm gives the shell it runs `script` in (`more` over it). */
const asNpmRunsIt = (script: string, more: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  ...cleanEnv(),
  npm_lifecycle_event: 'start',
  npm_lifecycle_script: script,
  ...more,
});

/**
 * `start` as npm runs it (npm_lifecycle_event set) under a shell that cannot exec it; the shell is killed once `ready`
 * says so. Resolves with what it printed, once its pipes close (node inherited them, so their end is node's).
 */
const orphanedStart = async (
  data: string,
  ready: (out: string) => boolean,
  env: (script: string) => NodeJS.ProcessEnv = asNpmRunsIt,
  serveForMs = 0,
): Promise<{ out: string; err: string; node: number | undefined }> => {
  const script = `${startCommand(data)}; true`;
  const shell = spawn('/bin/sh', ['-c', script], { cwd: ROOT, env: env(script), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let node: number | undefined;
  const ended = new Promise<void>((resolve) => shell.stdout.on('close', resolve));
  shell.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  let killing = false;
  const killShell = (): void => {
    if (node !== undefined) return;
    try {
      node = Number(execFileSync('ps', ['-o', 'pid=', '--ppid', String(shell.pid)]).toString().trim().split(/\s+/)[0]);
    } catch {
      node = 0; // the shell had ended: node stopped before it was told to
    }
    shell.kill('SIGKILL');
  };
  shell.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    if (killing || !ready(out)) return;
    killing = true;
    if (serveForMs === 0) killShell();
    else setTimeout(killShell, serveForMs);
  });
  // Bounded: without the fix node serves until killed.
  const timer = setTimeout(() => {
    if (node !== undefined && node > 0) process.kill(node, 'SIGKILL');
    shell.kill('SIGKILL');
  }, 110_000);
  await ended;
  clearTimeout(timer);
  return { out, err, node };
};

/**
 * `start` as npm runs it under a shell gone before node's first line: the shell starts a subshell and kills itself at
 * once; the subshell waits until that shell is gone, then execs node, so node is adopted (by PID 1 or a subreaper)
 * before it runs at all, whatever the machine's load. Resolves with what it printed once its pipes close, or after
 * `boundMs` with node killed (before the fix it served on).
 */
const startAdoptedBeforeItsFirstLine = async (data: string, boundMs: number): Promise<{ out: string; node: number; bounded: boolean }> => {
  const script = `(while kill -0 $$ 2>/dev/null; do sleep 0.01; done; exec ${startCommand(data)}) & echo "node=$!"; kill -9 $$`;
  const shell = spawn('/bin/sh', ['-c', script], { cwd: ROOT, env: asNpmRunsIt(script), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  shell.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  shell.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const ended = new Promise<void>((resolve) => shell.stdout.on('close', resolve));
  const node = (): number => Number(/node=(\d+)/.exec(out)?.[1] ?? 0);
  let bounded = false;
  const timer = setTimeout(() => {
    bounded = true;
    if (node() > 0) process.kill(node(), 'SIGKILL');
  }, boundMs);
  await ended;
  clearTimeout(timer);
  return { out: `${out}\n(stderr:)\n${err}`, node: node(), bounded };
};

describe('credence start run by npm under a shell that does not exec it', () => {
  it('stops gracefully once that shell is gone, releasing its data folder', async () => {
    const data = join(scratch(), 'data');
    const { out, err, node } = await orphanedStart(data, (printed) => /TOKEN=/.test(printed));
    expect(node, out).toBeGreaterThan(0);
    expect(out).toContain(`Credence stopped; ${data} keeps everything.`);
    expect(err).toMatch(/stopping: the process that ran `credence start` \(pid \d+\) is gone/);
  }, 120_000);

  // Review 452: `npm exec -c 'make e2e'` whose recipe runs start under make's own `sh -c`: that shell is not the
  // script's, but npm (here the node running this test, npm_node_execpath) is among its ancestors. Start stopped at
  // once, saying nothing of why; it serves on (past several looks) until that shell is gone.
  it('serves on under a shell running another command below npm, and stops once that shell is gone (review 452)', async () => {
    const data = join(scratch(), 'data');
    const { out, err, node } = await orphanedStart(
      data,
      (printed) => /TOKEN=/.test(printed),
      (script) => asNpmRunsIt(script, { npm_lifecycle_script: 'make e2e', npm_node_execpath: process.execPath }),
      2_000,
    );
    expect(node ?? 0, `stopped before it was told to:\n${out}\n${err}`).toBeGreaterThan(0);
    expect(out).toContain(`Credence stopped; ${data} keeps everything.`);
    expect(err).not.toMatch(/gone before it started/);
    expect(err).toMatch(/stopping: the process that ran `credence start` \(pid \d+\) is gone/);
  }, 120_000);

  // Review 261's case killed the shell 800 ms after node was forked; under load node's first line came later (939 ms
  // measured), the parent recorded was already the adoptive one, and start served on (110 s in CI). Here the shell is
  // gone before that line, always. A shell gone after it and before the watch begins is seen as the first case is.
  it('stops too when the shell went during its start-up, before node ran its first line and could record it (reviews 261, 445)', async () => {
    const data = join(scratch(), 'data');
    const { out, node, bounded } = await startAdoptedBeforeItsFirstLine(data, 90_000);
    expect(node, out).toBeGreaterThan(0);
    expect(bounded, `still serving after 90 s, killed: ${out}`).toBe(false);
    expect(out).toMatch(/Credence stopped before the demo|Stopped during the demo|Credence stopped;/);
    expect(out).toMatch(/stopping: the process that ran `credence start` was gone before it started: its parent was pid \d+, not under npm/);
  }, 120_000);
});
