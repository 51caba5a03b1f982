import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { EmbeddedSecureEnvironment, secureEnvironmentConfigForDataDir } from '../adapters/driven/secure-environment/index.ts';
import { InspectableSecureEnvironment } from './support/inspectable-secure-environment.ts';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { containsSecret, fakeClock, seededRandom, toBase64url } from './crypto-fixtures.ts';

const OWNER = 'node:meter-1';
const text = (s: string) => new TextEncoder().encode(s);
const dirs: string[] = [];
const dataDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-se-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const clock = fakeClock();
const openIn = (dir: string, seed = 'storage') =>
  InspectableSecureEnvironment.open(secureEnvironmentConfigForDataDir(dir), { now: clock.now, random: seededRandom(seed) });

const sealedBytesOf = (databasePath: string, handle: KeyHandle): Buffer => {
  const db = new Database(databasePath, { readonly: true });
  try {
    return (db.prepare('SELECT sealed FROM se_keys WHERE handle = ?').get(handle) as { sealed: Buffer }).sealed;
  } finally {
    db.close();
  }
};

describe('embedded Secure Environment on disk', () => {
  it('creates its key-encryption key file with mode 0600 and reuses it on restart, keys surviving', async () => {
    const dir = dataDir();
    const se = openIn(dir);
    const handle = await se.generate(OWNER, 'ed25519');
    const publicKey = (await se.describe(OWNER, handle)).publicKey;
    se.close();
    const kekPath = join(dir, 'secure-environment.kek');
    expect(statSync(kekPath).mode & 0o777).toBe(0o600);
    const reopened = openIn(dir, 'storage-2');
    expect((await reopened.describe(OWNER, handle)).publicKey).toEqual(publicKey);
    reopened.close();
  });

  it('ephemeral keys are never written and are gone after a restart', async () => {
    const dir = dataDir();
    const se = openIn(dir);
    const ephemeral = await se.generate(OWNER, 'x25519', { ephemeral: true });
    const secret = se.exportForTest(ephemeral);
    se.close();
    expect(containsSecret(readFileSync(join(dir, 'secure-environment.sqlite')), secret)).toBe(false);
    const reopened = openIn(dir);
    await expect(reopened.describe(OWNER, ephemeral)).rejects.toSatisfy((e) => isCredenceError(e, 'not_found'));
    reopened.close();
  });

  it('refuses a key file that group or others can read', () => {
    const dir = dataDir();
    openIn(dir).close();
    chmodSync(join(dir, 'secure-environment.kek'), 0o640);
    expect(() => openIn(dir)).toThrow(/must not be readable by group or others/);
  });

  it('refuses a key-encryption key that did not seal this database', async () => {
    const dir = dataDir();
    const database = join(dir, 'keys.sqlite');
    const deps = { now: clock.now, random: seededRandom('kek') };
    EmbeddedSecureEnvironment.open({ database, kek: { source: 'inline', key: toBase64url(new Uint8Array(32).fill(7)) } }, deps).close();
    try {
      EmbeddedSecureEnvironment.open({ database, kek: { source: 'inline', key: toBase64url(new Uint8Array(32).fill(8)) } }, deps);
      expect.unreachable();
    } catch (error) {
      expect(isCredenceError(error, 'validation')).toBe(true);
    }
  });

  it('refuses an ephemeral key-encryption key for a database file, naming the field', () => {
    try {
      EmbeddedSecureEnvironment.open({ database: join(dataDir(), 'k.sqlite'), kek: { source: 'ephemeral' } }, { now: clock.now, random: seededRandom('x') });
      expect.unreachable();
    } catch (error) {
      expect(isCredenceError(error, 'validation') && error.problem.code === 'validation' && error.problem.issues[0]?.path).toBe('kek.source');
    }
  });

  it('keeps every key sealed: no key bytes in the file in raw, hex or base64 form', async () => {
    const dir = dataDir();
    const se = openIn(dir);
    const handles = [
      await se.generate(OWNER, 'psk256'),
      await se.generate(OWNER, 'ed25519'),
      await se.generate(OWNER, 'p256'),
      await se.generate(OWNER, 'x25519'),
    ];
    handles.push(await se.deriveKey(OWNER, { inputs: [handles[0] as KeyHandle], salt: text('s'), info: text('i'), kind: 'session256' }));
    const secrets = handles.map((h) => se.exportForTest(h));
    se.close();
    const files = ['secure-environment.sqlite', 'secure-environment.wrapping-keys'].map((f) => readFileSync(join(dir, f)));
    for (const secret of secrets) for (const file of files) expect(containsSecret(file, secret)).toBe(false);
  });

  it('binds each sealed key to its row: a sealed box moved onto another handle does not open', async () => {
    const dir = dataDir();
    const se = openIn(dir);
    const a = await se.generate(OWNER, 'ed25519');
    const b = await se.generate(OWNER, 'ed25519');
    se.close();
    const database = join(dir, 'secure-environment.sqlite');
    const db = new Database(database);
    db.prepare('UPDATE se_keys SET sealed = ? WHERE handle = ?').run(sealedBytesOf(database, a), b);
    db.close();
    const reopened = openIn(dir);
    await expect(reopened.sign(OWNER, b, text('x'))).rejects.toThrow(`key ${b} failed its integrity check`);
    await expect(reopened.sign(OWNER, a, text('x'))).resolves.toHaveLength(64);
    reopened.close();
  });

  it('destroy is crypto-shredding: the sealed bytes are gone from the database file and the handle is not_found', async () => {
    const dir = dataDir();
    const database = join(dir, 'secure-environment.sqlite');
    const se = openIn(dir);
    const victim = await se.generate(OWNER, 'p256');
    const survivor = await se.generate(OWNER, 'p256');
    const sealed = sealedBytesOf(database, victim);
    expect(readFileSync(database).includes(sealed)).toBe(true);
    await se.destroy(OWNER, victim);
    expect(readFileSync(database).includes(sealed)).toBe(false);
    expect(existsSync(`${database}-journal`) && readFileSync(`${database}-journal`).includes(sealed)).toBe(false);
    await expect(se.sign(OWNER, victim, text('x'))).rejects.toSatisfy((e) => isCredenceError(e, 'not_found'));
    await expect(se.sign(OWNER, survivor, text('x'))).resolves.toHaveLength(64);
    se.close();
    const reopened = openIn(dir);
    await expect(reopened.describe(OWNER, victim)).rejects.toSatisfy((e) => isCredenceError(e, 'not_found'));
    reopened.close();
  });
});
