import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { preparePrivateDir } from '../adapters/driven/files/index.ts';
import { lockDataFolder, tryLockDataFolder } from '../adapters/runtime/data-folder.ts';
import { assertKekFileUsable } from '../adapters/runtime/kek-file.ts';
import { isCredenceError } from '../domain/errors.ts';
import { runCli } from './support/cli.ts';
import { refusalOf } from './support/left-wal.ts';
import { DEAD_PID } from './support/outside-kek-folder.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 373 item 1: a new data folder on a read-only mount was `error: EROFS: read-only file system, mkdir '…/newdata'`
 * (exit 1), a full disk or a quota the same with ENOSPC, EDQUOT; a CREDENCE_KEK_FILE to be made on a read-only mount
 * was the system's EROFS naming the temp file the KEK is written through (`.kek.<pid>.<random>.tmp`). Both are now
 * refused by the setting, the path and the cause in words (exit 2, as other unusable folders). Root passes any mode
 * bits, so the file system's answer is injected where it is asked, as the system gives it.
 */
const scratch = temporaryFolders('credence-read-only-or-full-');

/** The folder whose making fails, and how; the folders read-only or full for a KEK file's check. */
const system = vi.hoisted(() => ({
  mkdir: new Map<string, string>(),
  readOnly: new Set<string>(),
  full: new Set<string>(),
  noBlocks: new Set<string>(),
  // A folder whose files' close(2) reports a deferred write error (NFS: EDQUOT, ENOSPC at close), by code.
  closeFails: new Map<string, string>(),
  failingFds: new Map<number, string>(),
  // Every file opened for writing, by path.
  writes: [] as string[],
}));
vi.mock('node:fs', async (original) => {
  const fs = await original<typeof import('node:fs')>();
  const refused = (code: string, call: string, path: string) => Object.assign(new Error(`${code}: ${call} '${path}'`), { code, syscall: call, path });
  const mkdirSync = ((path: import('node:fs').PathLike, options?: import('node:fs').MakeDirectoryOptions) => {
    const code = system.mkdir.get(String(path));
    if (code !== undefined) throw refused(code, 'mkdir', String(path));
    return fs.mkdirSync(path, options);
  }) as typeof fs.mkdirSync;
  const accessSync = ((path: import('node:fs').PathLike, mode?: number) => {
    if (system.readOnly.has(String(path)) && mode !== undefined && (mode & fs.constants.W_OK) !== 0) throw refused('EROFS', 'access', String(path));
    return fs.accessSync(path, mode);
  }) as typeof fs.accessSync;
  const statfsSync = ((path: import('node:fs').PathLike, options?: import('node:fs').StatFsOptions) => {
    const found = fs.statfsSync(path, options as never);
    // ramfs (review 377 item 2): no blocks at all, none free, and every write goes through.
    if (system.noBlocks.has(String(path))) return { ...found, blocks: 0, bfree: 0, bavail: 0 };
    return system.full.has(String(path)) ? { ...found, bfree: 0, bavail: 0 } : found;
  }) as typeof fs.statfsSync;
  // A file made in a read-only folder fails as there (the KEK's temp file, before it was checked for).
  const openSync = ((path: import('node:fs').PathLike, flags?: import('node:fs').OpenMode, mode?: import('node:fs').Mode) => {
    const path_ = String(path);
    const folder = path_.slice(0, path_.lastIndexOf('/'));
    if (typeof flags === 'string' && /[wa+]/.test(flags)) system.writes.push(path_);
    if (typeof flags === 'string' && /[wa+]/.test(flags) && system.readOnly.has(folder)) throw refused('EROFS', 'open', path_);
    const fd = fs.openSync(path, flags ?? 'r', mode);
    const code = system.closeFails.get(folder);
    if (code !== undefined) system.failingFds.set(fd, code);
    return fd;
  }) as typeof fs.openSync;
  const closeSync = ((fd: number) => {
    fs.closeSync(fd);
    const code = system.failingFds.get(fd);
    system.failingFds.delete(fd);
    if (code !== undefined) throw Object.assign(new Error(`${code}: ${code === 'EDQUOT' ? 'disk quota exceeded' : 'no space left on device'}, close`), { code, syscall: 'close' });
  }) as typeof fs.closeSync;
  const replaced = { mkdirSync, accessSync, statfsSync, openSync, closeSync };
  return { ...fs, ...replaced, default: { ...fs, ...replaced } };
});
afterEach(() => {
  system.mkdir.clear();
  system.readOnly.clear();
  system.full.clear();
  system.noBlocks.clear();
  system.closeFails.clear();
  system.failingFds.clear();
  system.writes.length = 0;
  vi.unstubAllEnvs();
});

const issuesOf = (error: unknown): { path: string; rule: string; message: string }[] => {
  expect(isCredenceError(error, 'validation'), String(error)).toBe(true);
  return (error as { problem: { issues: { path: string; rule: string; message: string }[] } }).problem.issues;
};

describe('a data folder that cannot be made for its file system', () => {
  it.each([
    ['EROFS', /is on a read-only file system/],
    ['ENOSPC', /no space left on its file system/],
    ['EDQUOT', /disk quota .* used up/],
  ])('%s making it is a validation error on data (usable_folder) saying why in words, not the system error', (code, why) => {
    const data = join(scratch(), 'newdata');
    system.mkdir.set(data, code);
    const issues = issuesOf(refusalOf(() => preparePrivateDir(data)));
    expect(issues).toEqual([{ path: 'data', rule: 'usable_folder', message: expect.stringContaining(`${data} cannot be made`) }]);
    expect(issues[0]!.message).toMatch(why);
    expect(issues[0]!.message).toContain(`(${code})`);
    expect(issues[0]!.message).not.toContain(`${code}:`);
  });

  it('credence serve on a new folder of a read-only file system is bad usage (exit 2) naming data and the cause', async () => {
    const data = join(scratch(), 'newdata');
    system.mkdir.set(data, 'EROFS');
    const refused = await runCli(['serve', '--port', '0', '--data', data]);
    expect(refused.err).not.toMatch(/EROFS:/);
    expect(refused.err).toContain(`data: ${data} cannot be made: it is on a read-only file system`);
    expect(refused.code, refused.err).toBe(2);
  }, 30_000);
});

describe('a KEK file (CREDENCE_KEK_FILE) to be made where it cannot be written', () => {
  it('on a read-only file system is refused naming the setting, the file and the cause, not a temp file', () => {
    const folder = scratch();
    const kek = join(folder, 'credence.kek');
    system.readOnly.add(folder);
    const issues = issuesOf(refusalOf(() => assertKekFileUsable(kek, join(scratch(), 'data'))));
    expect(issues).toEqual([{ path: 'env CREDENCE_KEK_FILE', rule: 'kek_file', message: expect.stringContaining(`names ${kek}, which cannot be made: its folder ${folder} is on a read-only file system (EROFS)`) }]);
    expect(issues[0]!.message).not.toMatch(/\.tmp/);
  });

  it('in a folder still to be made, under one on a read-only file system, is refused the same', () => {
    const folder = scratch();
    const kek = join(folder, 'keys', 'credence.kek');
    system.readOnly.add(folder);
    const issues = issuesOf(refusalOf(() => assertKekFileUsable(kek, join(scratch(), 'data'))));
    expect(issues[0]!.message).toContain(`its folder ${folder} is on a read-only file system (EROFS)`);
  });

  it('on a full file system is refused naming the setting, the file and the cause', () => {
    const folder = scratch();
    const kek = join(folder, 'credence.kek');
    system.full.add(folder);
    const issues = issuesOf(refusalOf(() => assertKekFileUsable(kek, join(scratch(), 'data'))));
    expect(issues).toEqual([{ path: 'env CREDENCE_KEK_FILE', rule: 'kek_file', message: expect.stringContaining(`names ${kek}, which cannot be made: its folder ${folder} has no space left on its file system (ENOSPC)`) }]);
  });

  it('on a file system that reports no blocks at all (ramfs, a place for secrets that never swaps) is not refused as full', () => {
    const folder = scratch();
    const kek = join(folder, 'credence.kek');
    system.noBlocks.add(folder);
    expect(() => assertKekFileUsable(kek, join(scratch(), 'data'))).not.toThrow();
    // What the check wrote to find out is gone again.
    expect(readdirSync(folder)).toEqual([]);
  });

  // Review 380 item 1: the probe was closed then removed in one `finally`; a close that threw left it, and the raw error escaped.
  it.each([
    ['EDQUOT', /disk quota .* used up \(EDQUOT\)/],
    ['ENOSPC', /no space left on its file system \(ENOSPC\)/],
  ])('where closing a written file reports %s (NFS, at close) is refused for it, and what was written to find out is gone', (code, why) => {
    const folder = scratch();
    const kek = join(folder, 'credence.kek');
    system.closeFails.set(folder, code);
    const issues = issuesOf(refusalOf(() => assertKekFileUsable(kek, join(scratch(), 'data'))));
    expect(issues).toEqual([{ path: 'env CREDENCE_KEK_FILE', rule: 'kek_file', message: expect.stringContaining(`names ${kek}, which cannot be made: its folder ${folder} `) }]);
    expect(issues[0]!.message).toMatch(why);
    expect(issues[0]!.message).not.toContain(`${code}:`);
    expect(readdirSync(folder)).toEqual([]);
  });

  // Review 380 item 2: the lock's sweep checked the KEK by the opening's own check, probe and all.
  it.each([
    ['tryLockDataFolder (replay, query)', (data: string, env: Record<string, string>) => { const taken = tryLockDataFolder(data, [], env); if ('lock' in taken) taken.lock.release(); }],
    ['lockDataFolder (verify --data)', (data: string, env: Record<string, string>) => lockDataFolder(data, env).release()],
  ])('a lock taken by %s writes nothing in the folder of a KEK not made yet', (_what, lock) => {
    const folder = scratch();
    const kek = join(folder, 'credence.kek');
    const data = join(scratch(), 'data');
    mkdirSync(data, { mode: 0o700 });
    system.writes.length = 0;
    lock(data, { CREDENCE_KEK_FILE: kek });
    expect(system.writes.filter((path) => path.startsWith(`${folder}/`))).toEqual([]);
    expect(readdirSync(folder)).toEqual([]);
  });

  it("a lock's sweep removes a write check a killed process left beside the KEK, not a running process's", () => {
    const folder = scratch();
    const kek = join(folder, 'credence.kek');
    const data = join(scratch(), 'data');
    mkdirSync(data, { mode: 0o700 });
    const dead = `.credence-kek-write-check.${DEAD_PID}.0123456789ab`;
    const running = `.credence-kek-write-check.${process.ppid}.0123456789ab`;
    const anHourAgo = Date.now() / 1000 - 3600;
    for (const name of [dead, running]) {
      writeFileSync(join(folder, name), Buffer.alloc(64), { mode: 0o600 });
      utimesSync(join(folder, name), anHourAgo, anHourAgo);
    }
    const lock = lockDataFolder(data, { CREDENCE_KEK_FILE: kek });
    lock.release();
    expect(lock.removedStrays).toContain(join(folder, dead));
    expect(readdirSync(folder)).toEqual([running]);
  });

  // access(2) asks of the real uid and knows no capabilities: the write itself is what tells.
  const setpriv = process.geteuid?.() === 0 && spawnSync('setpriv', ['--version']).status === 0;
  it.skipIf(!setpriv)('in a folder this account may write only by a capability (CAP_DAC_OVERRIDE) is not refused', () => {
    const folder = scratch(); // root's, mode 0700
    const script = join(folder, 'check.mts');
    const kekFile = join(import.meta.dirname, '..', 'adapters', 'runtime', 'kek-file.ts');
    writeFileSync(
      script,
      `import { assertKekFileUsable } from ${JSON.stringify(kekFile)};\n` +
        `try { assertKekFileUsable(${JSON.stringify(join(folder, 'credence.kek'))}, ${JSON.stringify(join(folder, 'data'))}); console.log('accepted'); }\n` +
        `catch (error) { console.log(String(error?.problem?.issues?.[0]?.message ?? error)); }\n`,
    );
    const run = spawnSync(
      'setpriv',
      ['--reuid', '65534', '--regid', '65534', '--clear-groups', '--inh-caps', '+dac_override', '--ambient-caps', '+dac_override', process.execPath, '--import', 'tsx', script],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect(run.stdout.trim(), run.stderr).toBe('accepted');
    expect(readdirSync(folder)).toEqual(['check.mts']);
  }, 30_000);

  it('an existing KEK on a read-only file system (a mounted secret) is only read, and is not refused for it', async () => {
    const folder = scratch();
    const kek = join(folder, 'credence.kek');
    const data = join(scratch(), 'data');
    // A KEK made by a first opening, then its folder mounted read-only.
    const made = await runCli(['token', 'create', '--role', 'admin', '--subject', 'root', '--ttl', '1h', '--data', data], { CREDENCE_KEK_FILE: kek });
    expect(made.code, made.err).toBe(0);
    system.readOnly.add(folder);
    system.full.add(folder);
    expect(() => assertKekFileUsable(kek, data)).not.toThrow();
  });

  // Review 383: kek rotate writes the new KEK beside the existing one; on a full disk it failed with a raw ENOSPC.
  it('kek rotate of a KEK whose folder is full is refused naming it, before anything is written', async () => {
    const folder = scratch();
    const kek = join(folder, 'credence.kek');
    const data = join(scratch(), 'data');
    const made = await runCli(['token', 'create', '--role', 'admin', '--subject', 'root', '--ttl', '1h', '--data', data], { CREDENCE_KEK_FILE: kek });
    expect(made.code, made.err).toBe(0);
    const before = readdirSync(folder).sort();
    system.full.add(folder);
    const rotated = await runCli(['kek', 'rotate', '--data', data], { CREDENCE_KEK_FILE: kek });
    expect(rotated.code, rotated.err).toBe(1);
    expect(rotated.err).toContain(`the folder of the KEK file ${kek} has no space left on its file system (ENOSPC)`);
    expect(readdirSync(folder).sort()).toEqual(before);
  }, 30_000);

  it.each([
    // serve says every refusal of CREDENCE_KEK_FILE as an invalid Secure Environment configuration (exit 1) as before.
    ['serve', ['serve', '--port', '0'], 1],
    ['token create', ['token', 'create', '--role', 'admin', '--subject', 'root', '--ttl', '1h'], 2],
  ])('credence %s with one on a read-only file system is refused naming env CREDENCE_KEK_FILE, not a temp file', async (_what, argv, exit) => {
    const folder = scratch();
    mkdirSync(join(folder, 'secrets'), { mode: 0o700 });
    const kek = join(folder, 'secrets', 'credence.kek');
    system.readOnly.add(join(folder, 'secrets'));
    // The service's own opening reads the process's environment.
    vi.stubEnv('CREDENCE_KEK_FILE', kek);
    const refused = await runCli([...argv, '--data', join(scratch(), 'data')], { CREDENCE_KEK_FILE: kek });
    expect(refused.err).toContain(`env CREDENCE_KEK_FILE: names ${kek}, which cannot be made: its folder ${join(folder, 'secrets')} is on a read-only file system (EROFS)`);
    expect(refused.err).not.toMatch(/\.tmp|EROFS:/);
    expect(refused.code, refused.err).toBe(exit);
  }, 30_000);
});
