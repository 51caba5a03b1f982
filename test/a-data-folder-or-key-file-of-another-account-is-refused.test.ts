import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { preparePrivateDatabaseFile, preparePrivateDir } from '../adapters/driven/files/index.ts';
import { EmbeddedSecureEnvironment } from '../adapters/driven/secure-environment/index.ts';
import { PinSupply } from '../adapters/driven/secure-environment/pkcs11/pin-source.ts';
import { openKeyFileSigner } from '../adapters/driven/transparency/key-file-signer.ts';
import { lockDataFolder, openCredence, openDataFolderSecureEnvironment, openServiceSecureEnvironment } from '../adapters/runtime/index.ts';
import { readSignKey } from '../bin/commands/sign-key.ts';
import { isCredenceError } from '../domain/errors.ts';
import { operator, T0 } from './support/fleet.ts';

/*
 * Review 47 item 1: every private-file check looked at mode bits only, so a data folder, or a KEK, key, wrapping-key,
 * database or PIN file, owned by another account was used (a KEK that account planted and knows seals every key).
 * Like ssh's StrictModes, each is refused unless this process's effective uid owns it, and nothing is written.
 * Making a file another account's takes chown, which only root may do: as anyone else these tests cannot run.
 */
const NOBODY = 65534;
const asRoot = process.geteuid?.() === 0;

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
const scratch = () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-owner-'));
  dirs.push(dir);
  return dir;
};
const random = (n: number) => new Uint8Array(randomBytes(n));
const clock = new FakeClock(T0);

/** Every entry under `root`: its owner, mode and a digest of its bytes, to show a refusal changed nothing. */
const snapshot = (root: string): Record<string, string> => {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const stat = statSync(path);
      const digest = stat.isDirectory() ? 'dir' : createHash('sha256').update(readFileSync(path)).digest('hex');
      out[relative(root, path)] = `${stat.uid} ${(stat.mode & 0o777).toString(8)} ${digest}`;
      if (stat.isDirectory()) walk(path);
    }
  };
  out['.'] = `${statSync(root).uid} ${(statSync(root).mode & 0o777).toString(8)}`;
  walk(root);
  return out;
};

/** The refusal: a `validation` error of rule `owner` naming the file, its owner, the expected uid and chown. */
const refusesAsForeign = (open: () => unknown, path: string): void => {
  let caught: unknown;
  try {
    open();
  } catch (error) {
    caught = error;
  }
  expect(isCredenceError(caught, 'validation')).toBe(true);
  if (!isCredenceError(caught) || caught.problem.code !== 'validation') return;
  const issue = caught.problem.issues.find((i) => i.rule === 'owner');
  // Named alone, or among the others of a folder (review 49 item 5: one refusal names them all).
  expect(issue?.message).toMatch(new RegExp(`${escaped(path)}( is owned by uid ${NOBODY}| \\(uid ${NOBODY}\\))`));
  expect(issue?.message).toContain('not by uid 0');
  expect(issue?.message).toMatch(new RegExp(`chown (-R )?0 ${escaped(path).replace(/\/[^/]+$/, '')}`));
};
const escaped = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A data folder whose embedded Secure Environment was opened once (so all its files exist), then closed. */
const folderWithSecureEnvironment = (): string => {
  const dir = join(scratch(), 'data');
  openDataFolderSecureEnvironment(dir, { now: () => clock.now(), random }).close();
  return dir;
};

describe.skipIf(!asRoot)('a data folder or key file owned by another account is refused (needs root to chown)', () => {
  it('openCredence refuses a data folder another account owns, mode 0700 or not, and writes nothing in it', () => {
    const dir = join(scratch(), 'data');
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(join(dir, 'events.db'), '');
    chownSync(join(dir, 'events.db'), NOBODY, NOBODY);
    chownSync(dir, NOBODY, NOBODY);
    const before = snapshot(dir);
    const se = EmbeddedSecureEnvironment.open({ database: ':memory:', kek: { source: 'ephemeral' } }, { now: () => clock.now(), random });
    try {
      refusesAsForeign(() => openCredence({ location: { dir }, clock, security: { se, random, actor: operator } }), dir);
    } finally {
      se.close();
    }
    refusesAsForeign(() => preparePrivateDir(dir), dir);
    expect(snapshot(dir)).toEqual(before);
  });

  it("refuses to open a data folder's Secure Environment in a folder another account owns, and makes no key file in it", () => {
    const dir = join(scratch(), 'data');
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, NOBODY, NOBODY);
    refusesAsForeign(() => openDataFolderSecureEnvironment(dir, { now: () => clock.now(), random }), dir);
    expect(readdirSync(dir)).toEqual([]);
  });

  it.each(['secure-environment.kek', 'secure-environment.sqlite', 'secure-environment.wrapping-keys'])(
    'refuses a Secure Environment whose %s another account owns (0600), changing nothing',
    (file) => {
      const dir = folderWithSecureEnvironment();
      chownSync(join(dir, file), NOBODY, NOBODY);
      const before = snapshot(dir);
      refusesAsForeign(() => openDataFolderSecureEnvironment(dir, { now: () => clock.now(), random }), join(dir, file));
      expect(snapshot(dir)).toEqual(before);
    },
  );

  it('refuses a KEK another account planted in a new folder: no key database is made beside it', () => {
    const dir = join(scratch(), 'data');
    mkdirSync(dir, { mode: 0o700 });
    const kek = join(dir, 'secure-environment.kek');
    writeFileSync(kek, `${Buffer.from(randomBytes(32)).toString('base64url')}\n`, { mode: 0o600 });
    chownSync(kek, NOBODY, NOBODY);
    const before = snapshot(dir);
    refusesAsForeign(() => openDataFolderSecureEnvironment(dir, { now: () => clock.now(), random }), kek);
    expect(snapshot(dir)).toEqual(before);
  });

  it('an embedded Secure Environment opened by its configuration refuses another account\'s key database before making a KEK', () => {
    const dir = scratch();
    const database = join(dir, 'keys.sqlite');
    writeFileSync(database, '', { mode: 0o600 });
    chownSync(database, NOBODY, NOBODY);
    const before = snapshot(dir);
    const config = { database, kek: { source: 'file', path: join(dir, 'keys.kek') } };
    refusesAsForeign(() => EmbeddedSecureEnvironment.open(config, { now: () => clock.now(), random }), database);
    expect(snapshot(dir)).toEqual(before);
  });

  it.each(['', '-wal'])('refuses a database whose file%s another account owns, leaving its mode as it was (not tightened)', (suffix) => {
    const dir = scratch();
    const database = join(dir, 'keys.db');
    writeFileSync(database, '', { mode: 0o600 });
    writeFileSync(`${database}${suffix}`, '', { mode: 0o644 });
    chmodSync(`${database}${suffix}`, 0o644);
    chownSync(`${database}${suffix}`, NOBODY, NOBODY);
    const before = snapshot(dir);
    refusesAsForeign(() => preparePrivateDatabaseFile(database), `${database}${suffix}`);
    expect(snapshot(dir)).toEqual(before);
  });

  it("refuses a transparency log key file another account owns, however private its mode", () => {
    const dir = scratch();
    const path = join(dir, 'transparency.key');
    openKeyFileSigner({ path, keyName: 'credence.example/log', create: true });
    chownSync(path, NOBODY, NOBODY);
    const before = snapshot(dir);
    refusesAsForeign(() => openKeyFileSigner({ path, keyName: 'credence.example/log', create: true }), path);
    expect(snapshot(dir)).toEqual(before);
  });

  it('refuses a PKCS#11 PIN file another account owns', () => {
    const path = join(scratch(), 'pin');
    writeFileSync(path, '1234\n', { mode: 0o600 });
    chownSync(path, NOBODY, NOBODY);
    refusesAsForeign(() => PinSupply.take({ source: 'file', path }, {}), path);
  });

  it('refuses a --sign-key file another account owns', () => {
    const path = join(scratch(), 'sign-key.json');
    writeFileSync(path, JSON.stringify({ algorithm: 'ed25519', secretKey: Buffer.from(randomBytes(32)).toString('base64url') }), { mode: 0o600 });
    chownSync(path, NOBODY, NOBODY);
    refusesAsForeign(() => readSignKey(path), path);
  });

  /** Every path under `root` (itself included), each made another account's: what `chown -R` of a restore does. */
  const chownAll = (root: string): string[] => {
    const paths = [root, ...readdirSync(root, { recursive: true, encoding: 'utf8' }).map((name) => join(root, name))];
    for (const path of paths) chownSync(path, NOBODY, NOBODY);
    return paths;
  };

  const refusalOf = (open: () => unknown) => {
    try {
      open();
    } catch (error) {
      if (isCredenceError(error) && error.problem.code === 'validation') return error.problem.issues;
      throw error;
    }
    throw new Error('not refused');
  };

  it('a folder restored under another uid (chown -R), its KEK outside too, is refused once naming every path, chown -R and sudo -u; nothing changes', () => {
    // Review 49 item 5: each run named one path (about 12 runs to get through a restored folder).
    const dir = join(scratch(), 'data');
    const secrets = scratch();
    const kek = join(secrets, 'credence.kek');
    const env = { CREDENCE_KEK_FILE: kek };
    openServiceSecureEnvironment(dir, undefined, { now: () => clock.now(), random, env }).close();
    writeFileSync(join(dir, 'events.db'), '', { mode: 0o600 });
    writeFileSync(join(dir, 'events.db-wal'), '', { mode: 0o600 });
    const paths = chownAll(dir);
    chownSync(kek, NOBODY, NOBODY);
    const before = { folder: snapshot(dir), secrets: snapshot(secrets) };
    for (const open of [() => openServiceSecureEnvironment(dir, undefined, { now: () => clock.now(), random, env }), () => lockDataFolder(dir, env)]) {
      const issues = refusalOf(open);
      expect(issues.map((i) => [i.path, i.rule])).toEqual([
        ['data', 'owner'],
        ['env CREDENCE_KEK_FILE', 'owner'],
      ]);
      for (const path of paths) expect(issues[0]!.message).toContain(`${path} (uid ${NOBODY})`);
      expect(issues[0]!.message).toContain(`${paths.length} paths are owned by another account`);
      expect(issues[0]!.message).toContain(`chown -R 0 ${dir}`);
      expect(issues[0]!.message).toContain(`run it as that account instead (sudo -u '#${NOBODY}'`);
      expect(issues[1]!.message).toContain(`${kek} is owned by uid ${NOBODY}`);
      expect(issues[1]!.message).toContain(`chown 0 ${kek}`);
    }
    expect({ folder: snapshot(dir), secrets: snapshot(secrets) }).toEqual(before);
  });

  it('names the first 16 wrong-owned paths of a folder and counts the rest', () => {
    const dir = join(scratch(), 'data');
    mkdirSync(dir, { mode: 0o700 });
    for (let i = 0; i < 24; i++) writeFileSync(join(dir, `file-${String(i).padStart(2, '0')}.db`), '', { mode: 0o600 });
    chownAll(dir);
    const before = snapshot(dir);
    const [issue] = refusalOf(() => openDataFolderSecureEnvironment(dir, { now: () => clock.now(), random }));
    expect(issue!.message).toContain('25 paths are owned by another account');
    expect(issue!.message.match(/\(uid 65534\)/g)).toHaveLength(16);
    expect(issue!.message).toContain(' and 9 more');
    expect(snapshot(dir)).toEqual(before);
  });

  it('refuses a KEK file whose folder another account (not root) owns, before the data folder is made', () => {
    const secrets = join(scratch(), 'secrets');
    mkdirSync(secrets, { mode: 0o700 });
    chownSync(secrets, NOBODY, NOBODY);
    const dir = join(scratch(), 'data');
    const issues = refusalOf(() => openServiceSecureEnvironment(dir, undefined, { now: () => clock.now(), random, env: { CREDENCE_KEK_FILE: join(secrets, 'credence.kek') } }));
    expect(issues[0]).toMatchObject({ path: 'env CREDENCE_KEK_FILE', rule: 'owner' });
    expect(issues[0]!.message).toContain(secrets);
    expect(readdirSync(secrets)).toEqual([]);
    expect(readdirSync(dirname(dir))).toEqual([]);
  });
});
