/**
 * Review 445: `start` run by npm decides at launch whether the parent it recorded is what npm ran it from (the
 * `<shell> -c <script>` npm runs, or npm itself where that shell exec'd node, as bash does), and stops at once when
 * it is not: an adoptive parent (PID 1, a subreaper) or a process gone. Linux only (/proc).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { isTheProcessTheScriptRanFrom } from '../bin/commands/demo/parent-watch.ts';

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

describe.runIf(process.platform === 'linux')('the process npm ran start from, told from an adoptive parent', () => {
  it('is the shell npm runs the script in, also with arguments after the script', async () => {
    expect(isTheProcessTheScriptRanFrom(await shellWith(`sleep 30 || ${SCRIPT} --port 0`), npmEnv({ npm_lifecycle_script: 'sleep 30' }))).toBe(true);
  });

  it('is npm itself when that shell exec\'d node: a process of the node npm runs on', () => {
    expect(isTheProcessTheScriptRanFrom(process.pid, npmEnv({ npm_node_execpath: process.execPath }))).toBe(true);
  });

  it('is not a shell running another script', async () => {
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
