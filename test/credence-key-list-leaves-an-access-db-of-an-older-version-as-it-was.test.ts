import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ACCESS_OWNER } from '../adapters/http/auth/open-access-control.ts';
import { openAccessRegistry } from '../adapters/runtime/index.ts';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { isHeld, withDataFolderSe } from './support/key-held.ts';
import type { KeyHandle } from '../domain/ports/index.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * `credence key list` opened access.db with the registry's own opener, which sets its journal mode and upgrades a
 * file an older version wrote: a command that only reports changed the data folder it reported on. It reads the file
 * read-only now, as that version left it.
 */
const scratch = temporaryFolders('credence-key-list-access-');

const credence = async (argv: string[]): Promise<{ code: number; out: string[]; all: string }> => {
  const { io, out, err } = capture();
  const code = await main(argv, { ...io, env: {} });
  return { code, out, all: [...out, ...err].join('\n') };
};

const EMPTY = createHash('sha256').digest('hex');
const digest = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');
/** The file's bytes and mtime, and what its write-ahead log holds (SQLite may leave an empty one beside a file it read). */
const stateOf = (file: string) => ({
  bytes: digest(file),
  mtime: statSync(file).mtimeMs,
  journal: existsSync(`${file}-wal`) ? digest(`${file}-wal`) : EMPTY,
});

/** A folder whose access.db holds one signing key (a token made), rewritten as `downgrade` leaves it. */
const folder = async (downgrade: (db: Database.Database, key: string) => void) => {
  const dir = join(scratch(), 'data');
  const issued = await credence(['token', 'create', '--data', dir, '--role', 'admin', '--subject', 'ops', '--ttl', '1h']);
  expect(issued.code, issued.all).toBe(0);
  const access = openAccessRegistry({ dir });
  const key = (() => {
    try {
      return access.signingKeys()[0]!.handle;
    } finally {
      access.close();
    }
  })();
  const db = new Database(join(dir, 'access.db'));
  try {
    downgrade(db, key);
  } finally {
    db.close();
  }
  return { dir, key, file: join(dir, 'access.db') };
};

/** As version 2 kept it: the one signing key in settings, no record of which key signed a token, no scope. */
const version2 = (db: Database.Database, key: string) => {
  db.exec(`DROP INDEX tokens_signed_with; ALTER TABLE tokens DROP COLUMN signed_with; ALTER TABLE tokens DROP COLUMN scope; DROP TABLE signing_keys;`);
  db.prepare(`INSERT INTO settings (name, value) VALUES ('signing-key', ?)`).run(key);
  db.pragma('user_version = 2');
};

/** As version 3 kept it: no scope column. */
const version3 = (db: Database.Database) => {
  db.exec('ALTER TABLE tokens DROP COLUMN scope');
  db.pragma('user_version = 3');
};

const versionOf = (file: string): unknown => {
  const db = new Database(file, { readonly: true });
  try {
    return db.pragma('user_version', { simple: true });
  } finally {
    db.close();
  }
};

describe('credence key list and an access.db an older version wrote', () => {
  it.each([
    ['2, its key in settings', version2, 2],
    ['3, without token scopes', version3, 3],
  ] as const)('of version %s: names its signing key, and leaves the file byte for byte, mtime and version as they were', async (_, downgrade, version) => {
    const { dir, key, file } = await folder(downgrade);
    const before = stateOf(file);
    const listed = await credence(['key', 'list', '--data', dir, '--owner', ACCESS_OWNER]);
    expect(listed.code, listed.all).toBe(0);
    expect(listed.out[0]).toMatch(new RegExp(`^${key} ${ACCESS_OWNER} .* named by access_signing_key_in_use: the API token signing key ${file} names as current`));
    expect(listed.all).not.toContain('unnamed');
    expect(stateOf(file)).toEqual(before);
    expect(versionOf(file)).toBe(version);
  }, 60_000);

  it('of the current version: leaves the file and its journal as they were', async () => {
    const { dir, key, file } = await folder(() => undefined);
    const before = stateOf(file);
    const listed = await credence(['key', 'list', '--data', dir]);
    expect(listed.code, listed.all).toBe(0);
    expect(listed.out.find((line) => line.startsWith(`${key} `))).toContain('named by access_signing_key_in_use: ');
    expect(stateOf(file)).toEqual(before);
  }, 60_000);

  it('of a newer version: refused (exit 1), its keys never called unnamed, the file left as it was', async () => {
    const { dir, file } = await folder((db) => db.pragma('user_version = 99'));
    const before = stateOf(file);
    const refused = await credence(['key', 'list', '--data', dir, '--owner', ACCESS_OWNER]);
    expect(refused.code, refused.all).toBe(1);
    expect(refused.all).toContain('schema version 99');
    expect(refused.all).not.toContain('unnamed');
    expect(stateOf(file)).toEqual(before);
  }, 60_000);

  it('of version 4 without its signing_keys table: refused as damaged (exit 1), never made afresh with its key unnamed', async () => {
    const { dir, file } = await folder((db) => db.exec('DROP TABLE signing_keys'));
    const before = stateOf(file);
    const refused = await credence(['key', 'list', '--data', dir, '--owner', ACCESS_OWNER]);
    expect(refused.code, refused.all).toBe(1);
    expect(refused.all).toContain(`the database ${file} is damaged (no signing_keys table: which keys it names is unknown)`);
    expect(refused.all).not.toContain('unnamed');
    expect(stateOf(file)).toEqual(before);
  }, 60_000);

  it('replaced by another SQLite database (version 0, no settings table): refused as damaged, its key never called unnamed', async () => {
    const { dir, file, key } = await folder((db) => {
      db.exec('DROP TABLE IF EXISTS signing_keys; DROP TABLE IF EXISTS settings; DROP TABLE IF EXISTS tokens; CREATE TABLE IF NOT EXISTS unrelated (x)');
      db.pragma('user_version = 0');
    });
    const before = stateOf(file);
    const refused = await credence(['key', 'list', '--data', dir, '--owner', ACCESS_OWNER]);
    expect(refused.code, refused.all).toBe(1);
    expect(refused.all).toContain(`the database ${file} is damaged (no settings table: which keys it names is unknown)`);
    expect(refused.all).not.toContain('unnamed');
    const destroy = await credence(['key', 'destroy', '--data', dir, '--owner', ACCESS_OWNER, '--handle', key]);
    expect(destroy.code, destroy.all).toBe(1);
    expect(await withDataFolderSe(dir, ACCESS_OWNER, (se) => isHeld(se, key as KeyHandle))).toBe(true);
    expect(stateOf(file)).toEqual(before);
  }, 60_000);

  it('a page and no table (a copy without its -wal, or a first open stopped before its schema): refused, naming both', async () => {
    const { dir, file } = await folder(() => undefined);
    rmSync(file);
    const page = new Database(file);
    page.pragma('journal_mode = WAL');
    page.close();
    const refused = await credence(['key', 'list', '--data', dir, '--owner', ACCESS_OWNER]);
    expect(refused.code, refused.all).toBe(1);
    expect(refused.all).toContain('no table at all: a copy made without its -wal, or a file whose first open stopped before its schema');
    expect(refused.all).toContain('only if the service never finished making it, move it aside');
    expect(refused.all).not.toContain('unnamed');
  }, 60_000);

  it('of version 2: an access key its settings do not name is listed unnamed, the one they name is not', async () => {
    const { dir, key } = await folder(version2);
    const left = await withDataFolderSe(dir, ACCESS_OWNER, (se) => se.generate('ed25519'));
    const listed = await credence(['key', 'list', '--data', dir, '--owner', ACCESS_OWNER, '--unnamed']);
    expect(listed.code, listed.all).toBe(0);
    expect(listed.out[0]).toMatch(new RegExp(`^${left} ${ACCESS_OWNER} .* unnamed$`));
    expect(listed.all).not.toContain(`${key} `);
  }, 60_000);
});
