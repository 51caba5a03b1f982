import 'reflect-metadata';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS_DB_FILE } from '../adapters/driven/access/sqlite-access-registry.ts';
import { atomicWriteTempName } from '../adapters/driven/files/atomic-write.ts';
import { IN_FOLDER_KEK_FILE } from '../adapters/driven/secure-environment/embedded-config.ts';
import { KEY_FILE } from '../adapters/driven/transparency/key-file-signer.ts';
import { secureEnvironmentConfigForDataDir, wrappingKeysPath } from '../adapters/driven/secure-environment/index.ts';
import { register as demo } from '../bin/commands/demo-command.ts';
import { runCommands } from '../bin/program.ts';
import { capture } from './support/cli.ts';
import { tempDirs } from './support/temp-dirs.ts';

// Found in review: the docs' walkthrough makes ./device-meter-9 in the repository folder (and --node-id alone makes
// ./device-<node id>), and `npm start -- --data ./demo1` a data folder not named `data`: .gitignore covered only
// data/ and *.db, so `git add -A` took a device's KEK and sealed keys, and a data folder's. Every file that holds a
// key, or what unseals one, is now ignored wherever such a folder is made in the repository.

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The files the code names that hold keys or what unseals them: the Secure Environment's, the log key file, tokens. */
const inFolder = secureEnvironmentConfigForDataDir('.');
const SECRET_NAMES = [basename(inFolder.database), basename(wrappingKeysPath(inFolder)), IN_FOLDER_KEK_FILE, KEY_FILE, ACCESS_DB_FILE];
/** A file of those, or SQLite's journal of one (`-wal`, `-shm`, `-journal`). */
const isSecretBearing = (name: string): boolean => SECRET_NAMES.some((s) => name === s || name.startsWith(`${s}-`));
/** The temp an interrupted write of `name` leaves beside it (a KEK's holds the whole KEK). */
const tempOf = (name: string): string => atomicWriteTempName(name, 4242, new Uint8Array(6).fill(0xab));

/** Which of `paths` (relative to the repository) git ignores, by the repository's .gitignore as it is now. */
const ignoredOf = (paths: readonly string[]): Set<string> => {
  const run = spawnSync('git', ['check-ignore', '--no-index', '--stdin'], { cwd: ROOT, input: paths.join('\n'), encoding: 'utf8' });
  // 1: none of them ignored.
  expect([0, 1], run.stderr).toContain(run.status);
  return new Set(run.stdout.split('\n').filter((l) => l !== ''));
};

const filesUnder = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name))).sort();

const folders = tempDirs('credence-gitignore-');
afterAll(folders.cleanup);

describe('.gitignore, after a real run leaves a data folder and device folders in the repository folder', () => {
  let dataFiles: string[];
  let deviceFiles: string[];
  beforeAll(async () => {
    const data = join(folders.make(), 'demo1');
    const run = capture();
    expect(await runCommands([demo], ['demo', '--data', data], { ...run.io, env: {} }), run.err.join('\n')).toBe(0);
    dataFiles = filesUnder(data);
    // The demo's devices are device folders like ./device-meter-9: a Secure Environment of their own and device.json.
    deviceFiles = filesUnder(join(data, 'devices', 'meter-1'));
  }, 120_000);

  it('the run left the Secure Environment files the code names, in the data folder and in each device folder', () => {
    const secrets = (files: readonly string[]) => files.filter((f) => isSecretBearing(basename(f)));
    expect(secrets(dataFiles)).toEqual(expect.arrayContaining(['secure-environment.kek', 'secure-environment.sqlite', 'secure-environment.wrapping-keys', 'access.db', 'devices/meter-1/secure-environment.kek']));
    expect(secrets(deviceFiles)).toEqual(expect.arrayContaining(['secure-environment.kek', 'secure-environment.sqlite', 'secure-environment.wrapping-keys']));
  });

  it('ignores every secret-bearing file of a data folder not named data, and the temps a write of one leaves', () => {
    const names = [...new Set([...dataFiles, ...SECRET_NAMES])].filter((f) => isSecretBearing(basename(f)));
    const paths = names.flatMap((f) => [join('demo1', f), join('demo1', f.replace(/[^/]+$/, tempOf(basename(f))))]);
    const ignored = ignoredOf(paths);
    expect(paths.filter((p) => !ignored.has(p))).toEqual([]);
  });

  it('ignores a device folder by its default name whole, and the secret-bearing files of one of any other name', () => {
    const byDefault = deviceFiles.map((f) => join('device-meter-9', f));
    const named = [...new Set([...deviceFiles, ...SECRET_NAMES])].filter(isSecretBearing).flatMap((f) => [join('meter-9', f), join('meter-9', tempOf(f))]);
    const ignored = ignoredOf([...byDefault, ...named]);
    expect([...byDefault, ...named].filter((p) => !ignored.has(p))).toEqual([]);
  });

  it('ignores a KEK kept outside the folder by its usual suffix, and no file the repository tracks', () => {
    expect([...ignoredOf(['fleet.kek'])]).toEqual(['fleet.kek']);
    const tracked = spawnSync('git', ['ls-files', '--cached', '--ignored', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' });
    expect(tracked.status).toBe(0);
    expect(tracked.stdout.trim()).toBe('');
  });
});
