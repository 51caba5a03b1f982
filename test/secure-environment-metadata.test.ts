/**
 * Security issue 11 item 7: a stored key's public metadata (public key, fingerprint, creation time, usage) is
 * authenticated with its sealed bytes, so a writer of the key database cannot substitute the key devices pin.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { EmbeddedSecureEnvironment, secureEnvironmentConfigForDataDir } from '../adapters/driven/secure-environment/index.ts';
import { fakeClock, seededRandom } from './crypto-fixtures.ts';

const OWNER = 'node:meter-1';
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const clock = fakeClock();
const openIn = (dir: string) =>
  EmbeddedSecureEnvironment.open(secureEnvironmentConfigForDataDir(dir), { now: clock.now, random: seededRandom(`metadata-${dir}`) });

const refusedAsAltered = (error: unknown) =>
  isCredenceError(error, 'validation') && error.problem.code === 'validation' && error.problem.issues[0]?.rule === 'sealed_key_integrity';

/** Two keys; then `alter` runs on the closed database with the handles, and the reopened environment is returned. */
const alteredDatabase = async (alter: (db: Database.Database, target: string, other: string) => void) => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-se-metadata-'));
  dirs.push(dir);
  const se = openIn(dir);
  const target = await se.generate(OWNER, 'ed25519');
  const other = await se.generate(OWNER, 'ed25519');
  se.close();
  const db = new Database(join(dir, 'secure-environment.sqlite'));
  alter(db, target, other);
  db.close();
  return { se: openIn(dir), target, other };
};

describe('stored key metadata is authenticated', () => {
  it('a public key and fingerprint substituted in the database are refused by describe with a typed error', async () => {
    const { se, target, other } = await alteredDatabase((db, target, other) => {
      const theirs = db.prepare('SELECT public_key, fingerprint FROM se_keys WHERE handle = ?').get(other);
      db.prepare('UPDATE se_keys SET public_key = @public_key, fingerprint = @fingerprint WHERE handle = @handle').run({ ...(theirs as object), handle: target });
    });
    await expect(se.describe(OWNER, target)).rejects.toSatisfy(refusedAsAltered);
    expect((await se.describe(OWNER, other)).publicKey).toHaveLength(32);
    se.close();
  });

  it('a changed creation time is refused by describe with a typed error', async () => {
    const { se, target } = await alteredDatabase((db, target) => {
      db.prepare("UPDATE se_keys SET created_at = '2001-01-01T00:00:00.000Z' WHERE handle = ?").run(target);
    });
    await expect(se.describe(OWNER, target)).rejects.toSatisfy(refusedAsAltered);
    se.close();
  });

  it('a changed owner is refused with a typed error before the key is used', async () => {
    const { se, target } = await alteredDatabase((db, target) => {
      db.prepare("UPDATE se_keys SET owner = 'node:mallory' WHERE handle = ?").run(target);
    });
    await expect(se.sign('node:mallory', target, new Uint8Array(1))).rejects.toSatisfy(refusedAsAltered);
    se.close();
  });
});
