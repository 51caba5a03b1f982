import Database from 'better-sqlite3';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { EmbeddedSecureEnvironment } from '../adapters/driven/secure-environment/index.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { toBase64url } from '../domain/crypto/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { seededRandom } from './crypto-fixtures.ts';
import { operator, T0 } from './support/fleet.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * The key registry's schema is CREATE TABLE IF NOT EXISTS: a keys.db whose table was dropped, or replaced by another
 * SQLite file (a wrong restore), opened as an empty registry, and the service went on as if it bound no key (new
 * signing keys the devices do not pin, new pseudonyms, keys the shredder no longer finds). The CLI's key list and key
 * destroy already refused such a file as damaged; the service now does too, at start, writing nothing.
 */
const scratch = temporaryFolders('credence-keys-db-');
const KEK = toBase64url(new Uint8Array(32).fill(7));

/** Starts the service's composition on `dir` (security on), hands it to `use`, and stops it. */
const started = async <T>(dir: string, use: (c: { efPublicKey: string }) => T | Promise<T>): Promise<T> => {
  const clock = new FakeClock(T0);
  const random = seededRandom(`keys-db/${dir}`);
  const se = EmbeddedSecureEnvironment.open({ database: join(dir, 'se.sqlite'), kek: { source: 'inline', key: KEK } }, { now: () => clock.now(), random });
  try {
    const credence = openCredence({ location: { dir }, clock, security: { se, random, actor: operator } });
    try {
      const { infrastructure } = await credence.security();
      return await use({ efPublicKey: toBase64url(infrastructure.signing.efPublicKey) });
    } finally {
      await credence.close();
    }
  } finally {
    se.close();
  }
};

/** A data folder a start has run on: keys.db binds the Enrolment Function's signing key, among others. */
const folderWithBindings = async (): Promise<{ dir: string; efPublicKey: string }> => {
  const dir = scratch();
  const efPublicKey = await started(dir, (c) => c.efPublicKey);
  return { dir, efPublicKey };
};

/** Changes keys.db as another program would (closed: its -wal is folded into the file). */
const edit = (dir: string, sql: string): void => {
  const db = new Database(join(dir, 'keys.db'));
  db.exec(sql);
  db.close();
};

const tablesOf = (dir: string): string[] => {
  const db = new Database(join(dir, 'keys.db'), { readonly: true });
  try {
    return (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all() as { name: string }[]).map((r) => r.name);
  } finally {
    db.close();
  }
};

/** The start's refusal, and that keys.db's bytes are as they were before it. */
const refusedAtStart = async (dir: string): Promise<Error & { problem?: Record<string, unknown> }> => {
  const path = join(dir, 'keys.db');
  const before = readFileSync(path);
  const refused = await started(dir, () => undefined).then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  expect(refused, 'the start is refused').toBeDefined();
  expect(isCredenceError(refused, 'damaged_database'), String(refused)).toBe(true);
  expect(readFileSync(path).equals(before), 'keys.db is left byte for byte').toBe(true);
  const wal = `${path}-wal`;
  if (existsSync(wal)) expect(statSync(wal).size, 'nothing waits in its -wal either').toBe(0);
  return refused as Error & { problem?: Record<string, unknown> };
};

describe('a keys.db that lost its table is refused at start; a new or whole one opens', () => {
  it('refuses a keys.db whose se_key_handles table was dropped, naming keys.db and the rule, and writes nothing', async () => {
    const { dir } = await folderWithBindings();
    edit(dir, 'DROP TABLE se_key_handles');
    const refused = await refusedAtStart(dir);
    const path = join(dir, 'keys.db');
    expect(refused.message).toContain(
      `the database ${path} is damaged (no se_key_handles table, which every keys.db of schema version 2 is made with: which keys it binds is unknown)`,
    );
    expect(refused.message).toContain('restore it from a backup of the data folder');
    expect(refused).toMatchObject({ problem: { code: 'damaged_database', file: 'keys.db', path } });
    expect(tablesOf(dir)).toEqual(['key_pair_provisioning_runs', 'pseudonym_epoch_marks', 'se_key_destroy_failures']);
  });

  it('refuses a keys.db replaced by another SQLite database (a wrong restore)', async () => {
    const { dir } = await folderWithBindings();
    edit(dir, 'DROP TABLE se_key_handles; DROP TABLE se_key_destroy_failures; DROP TABLE key_pair_provisioning_runs; DROP TABLE pseudonym_epoch_marks; CREATE TABLE tokens (id TEXT); PRAGMA user_version = 0');
    const refused = await refusedAtStart(dir);
    expect(refused.message).toContain('(no se_key_handles table, which every keys.db is made with: which keys it binds is unknown)');
    expect(tablesOf(dir)).toEqual(['tokens']);
  });

  it('refuses a keys.db of version 2 that lost the table of the keys the shredder owes', async () => {
    const { dir } = await folderWithBindings();
    edit(dir, 'DROP TABLE se_key_destroy_failures');
    const refused = await refusedAtStart(dir);
    expect(refused.message).toContain('(no se_key_destroy_failures table, which every keys.db of schema version 2 is made with: which keys the shredder owes is unknown)');
  });

  it('refuses a keys.db of a page or more holding no schema at all (a copy without its -wal), saying what to do if the folder is new', async () => {
    const dir = scratch();
    const db = new Database(join(dir, 'keys.db'));
    db.pragma('journal_mode = WAL');
    db.close();
    expect(statSync(join(dir, 'keys.db')).size).toBeGreaterThan(0);
    const refused = await refusedAtStart(dir);
    expect(refused.message).toContain('(no table at all and no schema version, as a copy made without its -wal: which keys it binds is unknown)');
    expect(refused.message).toContain('only if this data folder is new and its first start stopped before making the table, move keys.db aside');
  });

  it('starts on a new data folder, making keys.db with its tables', async () => {
    const dir = scratch();
    await started(dir, () => undefined);
    expect(tablesOf(dir)).toEqual(['key_pair_provisioning_runs', 'pseudonym_epoch_marks', 'se_key_destroy_failures', 'se_key_handles']);
  });

  it('starts on a zero-length keys.db (a first start stopped before SQLite wrote to it) as on a new one', async () => {
    const dir = scratch();
    writeFileSync(join(dir, 'keys.db'), '', { mode: 0o600 });
    await started(dir, () => undefined);
    expect(tablesOf(dir)).toEqual(['key_pair_provisioning_runs', 'pseudonym_epoch_marks', 'se_key_destroy_failures', 'se_key_handles']);
  });

  it('opens an existing keys.db with its bindings: the same signing key after a restart', async () => {
    const { dir, efPublicKey } = await folderWithBindings();
    expect(await started(dir, (c) => c.efPublicKey)).toBe(efPublicKey);
  });

  it('opens a keys.db an older build wrote (schema version 1, before the keys the shredder owes) and upgrades it', async () => {
    const { dir, efPublicKey } = await folderWithBindings();
    edit(dir, 'DROP TABLE se_key_destroy_failures; DROP TABLE key_pair_provisioning_runs; DROP TABLE pseudonym_epoch_marks; PRAGMA user_version = 1');
    expect(await started(dir, (c) => c.efPublicKey)).toBe(efPublicKey);
    expect(tablesOf(dir)).toEqual(['key_pair_provisioning_runs', 'pseudonym_epoch_marks', 'se_key_destroy_failures', 'se_key_handles']);
  });

  it('opens a keys.db of version 2 an earlier build wrote without the key pairs\' provisioning runs, which it gains, its version unchanged', async () => {
    const { dir, efPublicKey } = await folderWithBindings();
    edit(dir, 'DROP TABLE key_pair_provisioning_runs; DROP TABLE pseudonym_epoch_marks');
    expect(await started(dir, (c) => c.efPublicKey)).toBe(efPublicKey);
    expect(tablesOf(dir)).toEqual(['key_pair_provisioning_runs', 'pseudonym_epoch_marks', 'se_key_destroy_failures', 'se_key_handles']);
    const db = new Database(join(dir, 'keys.db'), { readonly: true });
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(2);
    } finally {
      db.close();
    }
  });
});
