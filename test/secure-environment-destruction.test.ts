/**
 * Security issue 11 item 2: destroying a key is final against earlier copies of the key database. Every key is
 * sealed under its own wrapping key, kept apart from the database and erased by destroy(), so a backup, snapshot
 * or leftover journal of the database plus everything on disk afterwards (KEK, wrapping keys) does not open it.
 */
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { EmbeddedSecureEnvironment, secureEnvironmentConfigForDataDir } from '../adapters/driven/secure-environment/index.ts';
import { aeadSeal } from '../domain/crypto/aead.ts';
import { generateSigningKey, verifySignature } from '../domain/crypto/signatures.ts';
import { publicKeyFingerprint } from '../domain/crypto/fingerprint.ts';
import { fakeClock, seededRandom, toBase64url } from './crypto-fixtures.ts';
import { keyRowOf, putKeyRowBack } from './support/embedded-key-rows.ts';

const OWNER = 'node:meter-1';
const text = (s: string) => new TextEncoder().encode(s);
const DATABASE = 'secure-environment.sqlite';
const dirs: string[] = [];
const dataDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-se-destroy-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const clock = fakeClock();
const openIn = (dir: string, seed = 'destruction') =>
  EmbeddedSecureEnvironment.open(secureEnvironmentConfigForDataDir(dir), { now: clock.now, random: seededRandom(seed) });

/** Everything on disk in `dir` now, with the database replaced by `database` (a backup taken earlier). */
const restoreBackup = (dir: string, database: string): string => {
  const restored = dataDir();
  for (const file of readdirSync(dir)) copyFileSync(join(dir, file), join(restored, file));
  copyFileSync(database, join(restored, DATABASE));
  return restored;
};

const refused = (error: unknown) => isCredenceError(error);

describe('destroy is final against earlier copies of the key database', () => {
  it('a key destroyed after a backup was taken does not open from that backup with the KEK and wrapping keys on disk afterwards', async () => {
    const dir = dataDir();
    const backup = join(dataDir(), 'backup.sqlite');
    const se = openIn(dir);
    const victim = await se.generate(OWNER, 'ed25519');
    const survivor = await se.generate(OWNER, 'p256');
    const psk = await se.generate(OWNER, 'psk256');
    copyFileSync(join(dir, DATABASE), backup);
    await se.destroy(OWNER, victim);
    await se.destroy(OWNER, psk);
    se.close();

    const restored = openIn(restoreBackup(dir, backup), 'attacker');
    await expect(restored.sign(OWNER, victim, text('x'))).rejects.toSatisfy(refused);
    await expect(restored.describe(OWNER, victim)).rejects.toSatisfy(refused);
    await expect(restored.mac(OWNER, psk, text('x'))).rejects.toSatisfy(refused);
    // The backup still restores the keys that are live: only destroyed ones are gone from it.
    await expect(restored.sign(OWNER, survivor, text('x'))).resolves.toHaveLength(64);
    restored.close();
  });

  it("re-inserting a destroyed key's old row into the live database does not bring the key back", async () => {
    const dir = dataDir();
    const se = openIn(dir);
    const victim = await se.generate(OWNER, 'ed25519');
    const row = keyRowOf(dir, victim);
    await se.destroy(OWNER, victim);
    se.close();

    putKeyRowBack(dir, row);
    const reopened = openIn(dir, 'reopened');
    await expect(reopened.sign(OWNER, victim, text('x'))).rejects.toSatisfy(refused);
    await expect(reopened.describe(OWNER, victim)).rejects.toSatisfy(refused);
    reopened.close();
  });

  it("erases the destroyed key's wrapping key from the wrapping-key file itself", async () => {
    const dir = dataDir();
    const se = openIn(dir);
    const victim = await se.generate(OWNER, 'ed25519');
    const file = join(dir, 'secure-environment.wrapping-keys');
    const db = new Database(file, { readonly: true });
    const { sealed } = db.prepare('SELECT sealed FROM se_wrapping_keys WHERE handle = ?').get(victim) as { sealed: Buffer };
    db.close();
    expect(readFileSync(file).includes(sealed)).toBe(true);
    await se.destroy(OWNER, victim);
    expect(readFileSync(file).includes(sealed)).toBe(false);
    expect(existsSync(`${file}-journal`)).toBe(false);
    se.close();
  });

  it('refuses to open when the wrapping-key file is missing, and creates none', async () => {
    const dir = dataDir();
    const se = openIn(dir);
    await se.generate(OWNER, 'ed25519');
    se.close();
    unlinkSync(join(dir, 'secure-environment.wrapping-keys'));
    expect(() => openIn(dir)).toThrow(/wrapping-key file of this key database is missing/);
    expect(existsSync(join(dir, 'secure-environment.wrapping-keys'))).toBe(false);
  });

  it('upgrades a database of the previous format (every key under the KEK): its keys still sign, and a later destroy is final', async () => {
    const dir = dataDir();
    const kek = new Uint8Array(32).fill(5);
    const database = join(dir, 'old.sqlite');
    const random = seededRandom('format-1');
    const { secretKey, publicKey } = generateSigningKey('ed25519', random);
    const handle = 'key_formatOneKeyHandle000000';
    const legacy = new Database(database);
    legacy.exec(`CREATE TABLE se_meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
      CREATE TABLE se_keys (handle TEXT PRIMARY KEY, owner TEXT NOT NULL, kind TEXT NOT NULL, extractable INTEGER NOT NULL,
        public_key BLOB, fingerprint TEXT NOT NULL, sealed BLOB NOT NULL, created_at TEXT NOT NULL);`);
    const check = new TextEncoder().encode('credence/se/v1/kek-check');
    legacy.prepare('INSERT INTO se_meta VALUES (?, ?)').run('kek_check', Buffer.from(aeadSeal(kek, check, check, random)));
    const aad = text(`credence/se/v1/key\0${handle}\0${OWNER}\0ed25519\0${0}`);
    legacy.prepare('INSERT INTO se_keys VALUES (?, ?, ?, 0, ?, ?, ?, ?)').run(
      handle, OWNER, 'ed25519', Buffer.from(publicKey), publicKeyFingerprint('ed25519', publicKey), Buffer.from(aeadSeal(kek, secretKey, aad, random)), '2026-01-01T00:00:00.000Z',
    );
    legacy.close();
    const config = { database, kek: { source: 'inline', key: toBase64url(kek) } };
    const se = EmbeddedSecureEnvironment.open(config, { now: clock.now, random: seededRandom('upgrade') });
    const signature = await se.sign(OWNER, handle as never, text('still here'));
    expect(verifySignature('ed25519', publicKey, text('still here'), signature)).toBe(true);
    expect(await se.describe(OWNER, handle as never)).toMatchObject({ kind: 'ed25519', usage: 'sign' });
    copyFileSync(database, join(dir, 'backup.sqlite'));
    await se.destroy(OWNER, handle as never);
    se.close();
    copyFileSync(join(dir, 'backup.sqlite'), database);
    const restored = EmbeddedSecureEnvironment.open(config, { now: clock.now, random: seededRandom('restored') });
    await expect(restored.sign(OWNER, handle as never, text('x'))).rejects.toSatisfy(refused);
    restored.close();
  });
});
