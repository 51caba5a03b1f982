import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { preparePrivateDir } from '../adapters/driven/files/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { runCli } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';
import { refusalOf } from './support/left-wal.ts';

/*
 * Review 271: a data folder path that cannot be made failed with the system's error, where the docs promise a
 * `usable_folder` refusal (exit 2): under a link to nothing, `serve` and `token create` said `error: ENOENT: … mkdir`
 * (exit 1). And `--data /proc/1/x` spun at 100% CPU for ever, deaf to SIGTERM: Node's recursive mkdir loops on
 * procfs. The folder is now made one level at a time, so what cannot be made fails at once and is named.
 */

const scratch = temporaryFolders('credence-unmakeable-data-');

/** `<scratch>/link/data`, where `link` leads to nothing. */
const underALinkToNothing = (): string => {
  const dir = scratch();
  symlinkSync(join(dir, 'nowhere'), join(dir, 'link'));
  return join(dir, 'link', 'data');
};

describe('a data folder that cannot be made', () => {
  it.each([
    ['under a link to nothing', underALinkToNothing],
    ['a link to nothing itself', () => join(underALinkToNothing(), '..')],
  ])('%s is a validation error on data (usable_folder) naming it, not ENOENT', (_what, path) => {
    const data = path();
    const error = refusalOf(() => preparePrivateDir(data));
    expect(isCredenceError(error, 'validation'), String(error)).toBe(true);
    const issues = (error as { problem: { issues: { path: string; rule: string; message: string }[] } }).problem.issues;
    expect(issues).toEqual([{ path: 'data', rule: 'usable_folder', message: expect.stringContaining(data) }]);
    expect(issues[0]!.message).not.toContain('ENOENT:');
  });

  it('made where it can be is still made one level at a time, the topmost made returned, mode 0700', () => {
    const dir = scratch();
    const data = join(dir, 'a', 'b', 'c');
    expect(preparePrivateDir(data)).toBe(join(dir, 'a'));
    expect(readdirSync(join(dir, 'a', 'b'))).toEqual(['c']);
    for (const level of [join(dir, 'a'), join(dir, 'a', 'b'), data]) expect(statSync(level).mode & 0o777).toBe(0o700);
    expect(preparePrivateDir(data)).toBeUndefined();
  });

  it.each([
    ['serve', ['serve', '--port', '0']],
    ['token create', ['token', 'create', '--role', 'admin', '--subject', 'root', '--ttl', '1h']],
  ])('credence %s under a link to nothing is bad usage (exit 2) naming the path, not the system error', async (_what, argv) => {
    const data = underALinkToNothing();
    const refused = await runCli([...argv, '--data', data]);
    expect(refused.err).not.toMatch(/ENOENT:/);
    expect(refused.err).toMatch(/data: .*cannot be made/);
    expect(refused.err).toContain(data);
    expect(refused.code, refused.err).toBe(2);
  });

  // Only where /proc is procfs; each run in a child killed (SIGKILL) past a hard timeout, so a spin fails the test
  // instead of hanging the suite.
  it.runIf(process.platform === 'linux' && existsSync('/proc/1')).each([
    ['serve', ['serve', '--port', '0']],
    ['token create', ['token', 'create', '--role', 'admin', '--subject', 'root', '--ttl', '1h']],
  ])('credence %s --data /proc/1/x fails at once as bad usage (exit 2), not a spin', (_what, argv) => {
    const home = scratch();
    mkdirSync(join(home, 'cwd'));
    const run = spawnSync(process.execPath, [resolve('bin/credence.mjs'), ...argv, '--data', '/proc/1/x'], {
      cwd: join(home, 'cwd'),
      env: { PATH: process.env.PATH ?? '', HOME: tmpdir() },
      encoding: 'utf8',
      timeout: 30_000,
      killSignal: 'SIGKILL',
    });
    expect(run.signal, 'killed past the timeout: it spun').toBeNull();
    expect(run.stderr).toMatch(/data: \/proc\/1\/x cannot be made/);
    expect(run.status, run.stderr).toBe(2);
  }, 60_000);
});
