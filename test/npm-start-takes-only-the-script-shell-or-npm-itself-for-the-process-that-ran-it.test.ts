/**
 * Review 452: not only the script's shell or npm counts: any parent with npm among its ancestors does (`npm exec -c
 * 'make e2e'` running node under make's own `sh -c`, a script `./e2e.sh`, concurrently): found by walking
 * /proc/<pid>/stat up to PID 1; what cannot be read counts as npm's (the start serves on, the watch looks on).
 *
 * Review 445: `start` run by npm decides at launch whether the parent it recorded is what npm ran it from (the
 * `<shell> -c <script>` npm runs, or npm itself where that shell exec'd node, as bash does), and stops at once when
 * it is not: an adoptive parent (PID 1, a subreaper) or a process gone. Linux only (/proc).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isTheProcessTheScriptRanFrom, type ProcessTable } from '../bin/commands/demo/parent-watch.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const SCRIPT = 'node bin/credence.mjs start';
const npmEnv = (more: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ npm_lifecycle_event: 'start', npm_lifecycle_script: SCRIPT, ...more });

const running: { kill: () => void }[] = [];
afterEach(() => {
  for (const process of running.splice(0)) process.kill();
});

/** A shell alive running `script` (`; true` after it, so that it does not exec its last command). */
const shellWith = async (script: string): Promise<number> => {
  const shell = spawn('/bin/sh', ['-c', `${script}; true`, 'sh'], { stdio: 'ignore' });
  running.push({ kill: () => shell.kill('SIGKILL') });
  await once(shell, 'spawn');
  return shell.pid!;
};

const scratch = temporaryFolders('credence-npm-parent-');

/** A shell script run by bash, alive, that runs `body` (`; true` after it, so bash does not exec its last command). */
const bashScript = async (body: string): Promise<number> => {
  const script = join(scratch(), 'e2e.sh');
  writeFileSync(script, `${body}; true\n`);
  const bash = spawn('bash', [script], { stdio: 'ignore' });
  running.push({ kill: () => bash.kill('SIGKILL') });
  await once(bash, 'spawn');
  return bash.pid!;
};

/** What a made-up /proc holds: each process's parent, command name and executable; a process not listed is gone. */
const fakeProc = (processes: Record<number, { parent: number; name?: string; exe?: string }>, unreadable: number[] = []): ProcessTable => {
  const of = (pid: number) => {
    if (unreadable.includes(pid)) throw Object.assign(new Error('EACCES'), { code: 'EACCES' });
    const found = processes[pid];
    if (found === undefined) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
    return found;
  };
  return {
    named: true,
    entry: (pid, name) => {
      const found = of(pid);
      return name === 'stat' ? `${pid} (${found.name ?? 'sh'}) S ${found.parent} ${pid} ${pid} 0 -1 4194560` : `${found.name ?? 'sh'}\0`;
    },
    executable: (pid) => of(pid).exe ?? '/usr/bin/dash',
    exists: (pid) => processes[pid] !== undefined || unreadable.includes(pid),
  };
};
const NPM = { exe: process.execPath, name: 'npm exec' };

describe('the process npm ran start from, found by walking its ancestors in /proc (review 452)', () => {
  it('is a `sh -c` running another command when npm is among its ancestors (make\'s recipe shell under `npm exec -c`)', async () => {
    expect(isTheProcessTheScriptRanFrom(await shellWith('sleep 30'), npmEnv({ npm_node_execpath: process.execPath }))).toBe(true);
  });

  it('is `bash script.sh` when npm is among its ancestors', async () => {
    expect(isTheProcessTheScriptRanFrom(await bashScript('sleep 30'), npmEnv({ npm_node_execpath: process.execPath }))).toBe(true);
  });

  it('is a parent a few shells below npm, command names with spaces and parentheses read rightly', () => {
    const proc = fakeProc({ 40: { parent: 30, name: 'sh) 1 2 (x' }, 30: { parent: 20, name: 'make' }, 20: { parent: 10, name: 'a b) S 1' }, 10: { parent: 1, ...NPM } });
    expect(isTheProcessTheScriptRanFrom(40, npmEnv({ npm_node_execpath: process.execPath }), proc)).toBe(true);
  });

  it('is not a parent whose ancestors reach PID 1 without npm', () => {
    const proc = fakeProc({ 40: { parent: 30 }, 30: { parent: 1, name: 'tini' }, 1: { parent: 0, name: 'init' } });
    expect(isTheProcessTheScriptRanFrom(40, npmEnv({ npm_node_execpath: process.execPath }), proc)).toBe(false);
  });

  it('is not PID 1 itself, nor a subreaper whose ancestors hold no npm', () => {
    const proc = fakeProc({ 1: { parent: 0, name: 'init' }, 7: { parent: 1, name: 'systemd' } });
    expect(isTheProcessTheScriptRanFrom(1, npmEnv({ npm_node_execpath: process.execPath }), proc)).toBe(false);
    expect(isTheProcessTheScriptRanFrom(7, npmEnv({ npm_node_execpath: process.execPath }), proc)).toBe(false);
  });

  it('is npm as PID 1 of a container', () => {
    const proc = fakeProc({ 1: { parent: 0, ...NPM }, 9: { parent: 1 } });
    expect(isTheProcessTheScriptRanFrom(9, npmEnv({ npm_node_execpath: process.execPath }), proc)).toBe(true);
  });

  it('counts as npm\'s where it cannot be told: an ancestor gone mid-walk or unreadable, a chain too long, no /proc', () => {
    const env = npmEnv({ npm_node_execpath: process.execPath });
    expect(isTheProcessTheScriptRanFrom(40, env, fakeProc({ 40: { parent: 30 } }))).toBe(true);
    expect(isTheProcessTheScriptRanFrom(40, env, fakeProc({ 40: { parent: 30 } }, [30]))).toBe(true);
    expect(isTheProcessTheScriptRanFrom(40, env, fakeProc({}, [40]))).toBe(true);
    const chain = Object.fromEntries(Array.from({ length: 200 }, (_, index) => [index + 2, { parent: index + 3 }]));
    expect(isTheProcessTheScriptRanFrom(2, env, fakeProc(chain))).toBe(true);
    expect(isTheProcessTheScriptRanFrom(40, env, { ...fakeProc({ 40: { parent: 1 } }), named: false })).toBe(true);
  });

  it('is not a parent that is gone', () => {
    expect(isTheProcessTheScriptRanFrom(40, npmEnv({ npm_node_execpath: process.execPath }), fakeProc({}))).toBe(false);
  });
});

describe.runIf(process.platform === 'linux')('the process npm ran start from, told from an adoptive parent', () => {
  it('is the shell npm runs the script in, also with arguments after the script', async () => {
    expect(isTheProcessTheScriptRanFrom(await shellWith(`sleep 30 || ${SCRIPT} --port 0`), npmEnv({ npm_lifecycle_script: 'sleep 30' }))).toBe(true);
  });

  it('is npm itself when that shell exec\'d node: a process of the node npm runs on', () => {
    expect(isTheProcessTheScriptRanFrom(process.pid, npmEnv({ npm_node_execpath: process.execPath }))).toBe(true);
  });

  it('is not a shell running another script with no npm among its ancestors', async () => {
    expect(isTheProcessTheScriptRanFrom(await shellWith('sleep 30'), npmEnv())).toBe(false);
  });

  it('is not PID 1, which adopts an orphan', () => {
    // No npm_node_execpath: PID 1 of a container may be a node process (npm itself), which is the legitimate case.
    expect(isTheProcessTheScriptRanFrom(1, npmEnv())).toBe(false);
  });

  it('is not a process that is gone', async () => {
    const shell = spawn('/bin/sh', ['-c', 'exit 0'], { stdio: 'ignore' });
    await once(shell, 'exit');
    expect(isTheProcessTheScriptRanFrom(shell.pid!, npmEnv({ npm_node_execpath: process.execPath }))).toBe(false);
  });
});
