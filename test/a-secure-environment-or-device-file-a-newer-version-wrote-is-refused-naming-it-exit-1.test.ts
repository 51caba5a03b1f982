/**
 * Review 198 finding 1: a Secure Environment key database a newer version wrote (`se_meta.format` 3) was refused by
 * `serve`, `key list` and `kek rotate` as `invalid Secure Environment configuration: wrappingKeys: unknown key database
 * format 3`: the wrong file named (the wrapping-key file), not said that a newer version wrote it, and `token create
 * --data` called it bad usage (exit 2). A device's `device.json` of `"version": 2` said only `version: Invalid input:
 * expected 1`. Both now get the refusal every newer data file gets (newer-file-version.ts): rule `schema_version`, the
 * file's path, both versions, a newer version of Credence wrote it; exit 1 from every command; nothing written.
 * The `token` commands called a newer access.db bad usage (exit 2) too: now exit 1, as every other command.
 */
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { deviceCli } from './support/device-cli.ts';
import { filesBelow } from './support/files-below.ts';
import { tempDirs } from './support/temp-dirs.ts';

const folders = tempDirs('credence-newer-se-file-');
let data: string;
/** The folder as made, before its key database was given format 3. */
let clean: string;
let database: string;

beforeAll(async () => {
  data = join(folders.make(), 'data');
  // The cheapest command that makes a folder with an embedded Secure Environment holding a key (the token signing key).
  const made = await runCli(['token', 'create', '--data', data, '--role', 'admin', '--subject', 'a', '--ttl', '1h']);
  expect(made.code, made.err).toBe(0);
  // The folder's lock database, which the first command that takes the lock makes whatever it then finds.
  expect((await runCli(['key', 'list', '--data', data])).code).toBe(0);
  clean = join(folders.make(), 'clean');
  cpSync(data, clean, { recursive: true, preserveTimestamps: true });
  database = join(data, 'secure-environment.sqlite');
  const db = new Database(database);
  db.prepare("UPDATE se_meta SET value = ? WHERE name = 'format'").run(Buffer.of(3));
  db.close();
  return folders.cleanup;
}, 60_000);

const newer = (path: string, what: string, found: number, supported: number): string =>
  `${path}: ${what} file has schema version ${found}, newer than this build supports (${supported}): a newer version of Credence wrote it; open it with that version`;

describe('a Secure Environment key database a newer version wrote (format 3)', () => {
  it.each([
    ['key list', ['key', 'list']],
    ['token create', ['token', 'create', '--role', 'admin', '--subject', 'b', '--ttl', '1h']],
    ['token rotate-key', ['token', 'rotate-key']],
    ['kek rotate', ['kek', 'rotate']],
    ['serve', ['serve', '--port', '0', '--log-level', 'silent']],
  ])('is refused by %s naming the key database (exit 1, schema_version), nothing written', async (_name, argv) => {
    const before = filesBelow(data);
    const run = await runCli([...argv, '--data', data]);
    const said = `${run.out}\n${run.err}`;
    expect(said).toContain(newer(database, 'Secure Environment key database', 3, 2));
    expect(said).not.toContain('wrappingKeys');
    expect(run.code, said).toBe(1);
    expect(filesBelow(data)).toEqual(before);
  }, 60_000);
});

describe('a Secure Environment key database a newer version laid out otherwise', () => {
  it('is refused before this version sets up its tables in it (no index, no column added), nothing written', async () => {
    const copy = join(folders.make(), 'data');
    cpSync(data, copy, { recursive: true, preserveTimestamps: true });
    const path = join(copy, 'secure-environment.sqlite');
    const db = new Database(path);
    db.exec('DROP INDEX se_keys_by_owner');
    db.close();
    const before = filesBelow(copy);
    const run = await runCli(['key', 'list', '--data', copy]);
    expect(run.err).toContain(newer(path, 'Secure Environment key database', 3, 2));
    expect(run.code, run.err).toBe(1);
    expect(filesBelow(copy)).toEqual(before);
  }, 60_000);
});

describe('an access.db a newer version wrote', () => {
  it.each([
    ['token create', ['token', 'create', '--role', 'admin', '--subject', 'b', '--ttl', '1h']],
    ['token list', ['token', 'list']],
    ['token revoke', ['token', 'revoke', 'tok_AAAAAAAAAAAAAAAAAAAAAA']],
    ['token rotate-key', ['token', 'rotate-key']],
  ])('is refused by %s naming it (exit 1, not bad usage), nothing written', async (_name, argv) => {
    const copy = join(folders.make(), 'data');
    cpSync(clean, copy, { recursive: true, preserveTimestamps: true });
    const db = new Database(join(copy, 'access.db'));
    db.pragma('user_version = 99');
    db.close();
    const before = filesBelow(copy);
    const run = await runCli([...argv, '--data', copy]);
    const said = `${run.out}\n${run.err}`;
    expect(said).toContain(`${join(copy, 'access.db')}: access registry file has schema version 99, newer than this build supports`);
    expect(run.code, said).toBe(1);
    expect(filesBelow(copy)).toEqual(before);
  }, 60_000);
});

describe("a device's device.json a newer version wrote", () => {
  it('is refused naming it (exit 1, schema_version), not as a malformed file of this version, nothing written', async () => {
    const dir = join(folders.make(), 'meter-1');
    mkdirSync(dir, { mode: 0o700 });
    const path = join(dir, 'device.json');
    writeFileSync(path, `${JSON.stringify({ version: 3, nodeId: 'meter-1', layout: 'of a later version' })}\n`, { mode: 0o600 });
    const before = filesBelow(dir);
    const run = await deviceCli(['status', '--dir', dir]);
    expect(run.output).toContain(newer(path, 'device', 3, 2));
    expect(run.output).not.toContain('expected 1');
    expect(run.code, run.output).toBe(1);
    expect(filesBelow(dir)).toEqual(before);
  });
});

describe("a device's unfinished init (device-init.pending.json) a newer version wrote", () => {
  it('is refused by device init naming it (exit 1, schema_version), not as a file this version did not write', async () => {
    const dir = join(folders.make(), 'meter-2');
    mkdirSync(dir, { mode: 0o700 });
    const path = join(dir, 'device-init.pending.json');
    writeFileSync(path, `${JSON.stringify({ version: 2, nodeId: 'meter-2', layout: 'of a later version' })}\n`, { mode: 0o600 });
    // No server is reached: the folder is refused first.
    const run = await deviceCli(['init', '--node-id', 'meter-2', '--kind', 'ed25519', '--dir', dir, '--server', 'http://127.0.0.1:9', '--token', 'unused']);
    expect(run.output).toContain(newer(path, 'unfinished device init', 2, 1));
    expect(run.output).not.toContain('not an unfinished device init this version wrote');
    expect(run.code, run.output).toBe(1);
  });
});

describe("a device's device.json of version 1 (review 213)", () => {
  it('is read, and written again as version 2, which a build of version 1 refuses by its version', async () => {
    const { readState, writeState } = await import('../bin/commands/device/state.ts');
    const { startTestService } = await import('./support/service.ts');
    const svc = await startTestService();
    try {
      const dir = join(folders.make(), 'meter-v1');
      const init = await deviceCli(['init', '--node-id', 'meter-v1', '--kind', 'ed25519', '--dir', dir, '--server', svc.url, '--token', svc.tokens.operator]);
      expect(init.code, init.output).toBe(0);
      const path = join(dir, 'device.json');
      expect(JSON.parse(readFileSync(path, 'utf8')).version).toBe(2);
      // As a build of version 1 left it.
      writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, 'utf8')), version: 1 }), { mode: 0o600 });
      const state = readState(dir);
      expect(state.nodeId).toBe('meter-v1');
      writeState(dir, state);
      expect(JSON.parse(readFileSync(path, 'utf8')).version).toBe(2);
    } finally {
      await svc.close();
    }
  }, 60_000);
});
