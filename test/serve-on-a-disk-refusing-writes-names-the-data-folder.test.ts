/**
 * Review 373 #3: `serve` and `start` on a full disk or a read-only data folder said SQLite's bare words (`error:
 * database or disk is full`, `error: disk I/O error`), naming no folder, where `token` and `export` name it
 * (bin/write-failure.ts, review 81). A file size limit (`ulimit -f`) stands in for the full disk: SQLite and Node are
 * refused the same way. (`start` names it in bin/commands/demo.ts.)
 */
import { spawn } from 'node:child_process';
import { join, resolve, sep } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CannotWrite, namingRefusedWritesIn } from '../bin/write-failure.ts';
import { runCli } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const CLI = join(import.meta.dirname, '..', 'bin', 'credence.mjs');
const scratch = temporaryFolders('credence-serve-refused-writes-');

/** `credence <args>` in bash under `ulimit -f <kib>` (bash counts in KiB). */
const limited = async (kib: number, args: readonly string[]): Promise<{ code: number | null; err: string }> => {
  const quoted = [process.execPath, CLI, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const child = spawn('bash', ['-c', `ulimit -f ${kib}; ${quoted}`], { env: { ...process.env, PORT: '', CREDENCE_DATA: '', CREDENCE_STORE: '' } });
  let err = '';
  child.stdout.resume();
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  return { code, err };
};

/**
 * The folder whose SQLite databases the system refuses to write (as a full disk: SQLITE_FULL, which names no file),
 * for the in-process runs below; a spawned `credence` is not mocked.
 */
const full = vi.hoisted(() => ({ folder: undefined as string | undefined }));
vi.mock('better-sqlite3', async (original) => {
  const Real = (await original<{ default: typeof import('better-sqlite3') }>()).default;
  const Refusing = function (this: unknown, file?: string | Buffer, options?: import('better-sqlite3').Options) {
    const at = typeof file === 'string' && file !== '' && file !== ':memory:' ? resolve(file) : undefined;
    if (full.folder !== undefined && at !== undefined && at.startsWith(`${resolve(full.folder)}${sep}`)) throw new Real.SqliteError('database or disk is full', 'SQLITE_FULL');
    return new Real(file, options);
  } as unknown as typeof Real;
  Object.setPrototypeOf(Refusing, Real);
  Refusing.prototype = Real.prototype;
  return { default: Refusing };
});
afterEach(() => {
  full.folder = undefined;
});

describe('serve on a data folder whose writes the system refuses', () => {
  // 8 KiB: the Secure Environment's database cannot grow; 64 KiB: a later database of the folder.
  it.each([8, 64])('under ulimit -f %i: exit 1, one line naming the data folder and the code', async (kib) => {
    const data = join(scratch(), 'data');
    const run = await limited(kib, ['serve', '--data', data, '--port', '0']);
    expect(run.code, run.err).toBe(1);
    expect(run.err).not.toMatch(/^\s+at /m);
    expect(run.err.trim().split('\n').at(-1)).toMatch(new RegExp(`^error: cannot write the data folder ${data} \\((EFBIG|SQLITE_FULL|SQLITE_IOERR\\w*)[):]`));
  }, 60_000);
});

/*
 * Review 377 item 1: serve wrapped its whole start in "the data folder X", so a store kept in another folder
 * (`--store sqlite:<folder>`) on a full disk was said as the data folder, on a disk with space. The place whose write
 * was refused is named where it can be told (the store's folder marks its errors), else every place the start writes.
 */
describe('serve with a store in another folder whose writes the system refuses', () => {
  it('names the store folder, not the data folder', async () => {
    const folder = scratch();
    const data = join(folder, 'data');
    const store = join(folder, 'store');
    full.folder = store;
    // In process, the CannotWrite the CLI says as `error: <message>`, exit 1 (as the spawned runs above show).
    await expect(runCli(['serve', '--data', data, '--store', `sqlite:${store}`, '--port', '0'])).rejects.toThrow(
      new CannotWrite(`the store folder ${store}`, 'SQLITE_FULL', 'database or disk is full'),
    );
  }, 90_000);

  it('names the data folder first when its own databases are refused, never the store folder alone', async () => {
    const folder = scratch();
    const data = join(folder, 'data');
    const store = join(folder, 'store');
    full.folder = data;
    // SQLite names no file, and the store is written after its opening too: both places SQLite writes are named.
    await expect(runCli(['serve', '--data', data, '--store', `sqlite:${store}`, '--port', '0'])).rejects.toThrow(
      new CannotWrite(`the data folder ${data} or the store folder ${store}`, 'SQLITE_FULL', 'database or disk is full'),
    );
  }, 90_000);
});

describe('a refused write met where it cannot be told which place it was', () => {
  const places = { data: '/srv/data', store: 'sqlite:/mnt/store', checkpointWitness: '/var/lib/witness/checkpoint.json', kekFile: '/run/secrets/credence.kek' };
  const said = async (error: Error, of: Parameters<typeof namingRefusedWritesIn>[0] = places): Promise<string> =>
    namingRefusedWritesIn(of, () => Promise.reject(error)).then(
      () => 'no error',
      (refused: unknown) => String((refused as Error).message),
    );
  const sqliteFull = () => Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
  const errno = (code: string, path?: string) => Object.assign(new Error(`${code}: ${path ?? ''}`), { code, ...(path !== undefined ? { path } : {}) });

  it('SQLite (no file named): the data folder or the store folder, the two places SQLite writes', async () => {
    expect(await said(sqliteFull())).toBe('cannot write the data folder /srv/data or the store folder /mnt/store (SQLITE_FULL: database or disk is full)');
    expect(await said(sqliteFull(), { data: '/srv/data' })).toBe('cannot write the data folder /srv/data (SQLITE_FULL: database or disk is full)');
    expect(await said(sqliteFull(), { data: '/srv/data', store: 'sqlite:/srv/data' })).toBe('cannot write the data folder /srv/data (SQLITE_FULL: database or disk is full)');
  });

  it('a file system error naming its path: the place that path is in, a temp file by what it is written for', async () => {
    expect(await said(errno('ENOSPC', '/var/lib/witness/.checkpoint.json.4242.0123456789ab.tmp'))).toBe('cannot write the checkpoint witness /var/lib/witness/checkpoint.json (ENOSPC)');
    expect(await said(errno('EROFS', '/run/secrets/.credence.kek.4242.0123456789ab.tmp'))).toBe('cannot write the KEK file /run/secrets/credence.kek (env CREDENCE_KEK_FILE) (EROFS)');
    expect(await said(errno('ENOSPC', '/mnt/store/events.db-wal'))).toBe('cannot write the store folder /mnt/store (ENOSPC)');
    expect(await said(errno('EDQUOT', '/srv/data/keys.db'))).toBe('cannot write the data folder /srv/data (EDQUOT)');
  });

  it('a file system error naming no path (a write through a descriptor): every place the start writes', async () => {
    expect(await said(errno('ENOSPC'))).toBe(
      'cannot write the data folder /srv/data, the store folder /mnt/store, the checkpoint witness /var/lib/witness/checkpoint.json or the KEK file /run/secrets/credence.kek (env CREDENCE_KEK_FILE) (ENOSPC)',
    );
  });
});
