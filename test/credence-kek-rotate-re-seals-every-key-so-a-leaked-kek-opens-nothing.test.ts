import { copyFileSync, cpSync, existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { secureEnvironmentConfigForDataDir } from '../adapters/driven/secure-environment/index.ts';
import { nextKekFileOf, writeNextKek } from '../adapters/driven/secure-environment/kek-next-file.ts';
import { openVault } from '../adapters/driven/secure-environment/open-vault.ts';
import { lockDataFolder, openDataFolderSecureEnvironment, systemRandom } from '../adapters/runtime/index.ts';
import { main } from '../bin/cli.ts';
import { isCredenceError } from '../domain/errors.ts';
import type { KeyHandle } from '../domain/ports/index.ts';
import { capture } from './support/cli.ts';
import { startTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 127: a leaked KEK of the embedded Secure Environment could not be contained: nothing re-sealed the wrapping
 * keys under another KEK, and moving the KEK out of the folder keeps its bytes. `credence kek rotate` re-seals every
 * wrapping key and the KEK check value under a new KEK in one transaction, then replaces the KEK file; a crash between
 * its steps leaves a folder that opens.
 */
const scratch = temporaryFolders('credence-kek-rotate-');

/** While set, renaming a `<kek>.next` over its KEK fails as over a bind-mounted file (EBUSY), as review 128 met it. */
const rename = vi.hoisted(() => ({ busy: false, readOnly: '' }));
vi.mock('node:fs', async (original) => {
  const fs = await original<typeof import('node:fs')>();
  const renameSync: typeof fs.renameSync = (from, to) => {
    if (rename.busy && String(from).endsWith('.next')) throw Object.assign(new Error(`EBUSY: resource busy or locked, rename`), { code: 'EBUSY' });
    fs.renameSync(from, to);
  };
  // While `readOnly` names a file, opening it for writing fails as on a read-only mount (root passes a mode's checks).
  const openSync = ((path: import('node:fs').PathLike, flags?: import('node:fs').OpenMode, mode?: import('node:fs').Mode) => {
    if (rename.readOnly !== '' && String(path) === rename.readOnly && flags === 'r+') throw Object.assign(new Error('EROFS: read-only file system, open'), { code: 'EROFS' });
    return fs.openSync(path, flags ?? 'r', mode);
  }) as typeof fs.openSync;
  return { ...fs, renameSync, openSync, default: { ...fs, renameSync, openSync } };
});
afterEach(() => {
  rename.busy = false;
  rename.readOnly = '';
});
const OWNER = 'maf:infrastructure';
const message = new Uint8Array([1, 2, 3]);

const credence = async (argv: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> => {
  const { io, out, err } = capture();
  const code = await main(argv, { ...io, env });
  return { code, out: out.join('\n'), err: err.join('\n') };
};

/** A data folder whose Secure Environment holds a signing key and a MAC key; their handles. */
const folderWithKeys = async (kekFile?: string): Promise<{ dir: string; keys: KeyHandle[] }> => {
  const dir = join(scratch(), 'data');
  const se = openDataFolderSecureEnvironment(dir, { now: () => new Date(), ...(kekFile ? { kekFile } : {}) });
  try {
    const keys = [await se.generate(OWNER, 'ed25519'), await se.generate(OWNER, 'p256'), await se.generate(OWNER, 'psk256')];
    return { dir, keys };
  } finally {
    se.close();
  }
};

/** Every key signs or MACs through the folder's Secure Environment (its KEK where `kekFile` says). */
const allWork = async (dir: string, keys: readonly KeyHandle[], kekFile?: string): Promise<void> => {
  const se = openDataFolderSecureEnvironment(dir, { now: () => new Date(), ...(kekFile ? { kekFile } : {}) });
  try {
    for (const handle of keys) {
      const key = await se.describe(OWNER, handle);
      if (key.usage === 'sign') expect((await se.sign(OWNER, handle, message)).length).toBeGreaterThan(0);
      else expect((await se.mac(OWNER, handle, message)).length).toBe(32);
    }
  } finally {
    se.close();
  }
};

const kekOf = (dir: string): string => {
  const kek = secureEnvironmentConfigForDataDir(dir).kek;
  if (kek.source !== 'file') throw new TypeError('a data folder keeps its KEK in a file');
  return kek.path;
};

const refusalRules = (error: unknown): string[] =>
  isCredenceError(error) && error.problem.code === 'validation' ? error.problem.issues.map((i) => i.rule) : [];

/** A rotation stopped after its commit: the keys re-sealed under `<kek>.next`, the KEK file not yet replaced. The KEK's path. */
const resealedNotRenamed = (dir: string): string => {
  const kek = kekOf(dir);
  const next = systemRandom(32).slice();
  const { vault } = openVault(secureEnvironmentConfigForDataDir(dir), systemRandom);
  try {
    writeNextKek(kek, next);
    vault.resealUnder(next);
  } finally {
    vault.close();
  }
  return kek;
};

/** The bytes of every file of the folder, by name. */
const snapshot = (dir: string): Record<string, string> =>
  Object.fromEntries(readdirSync(dir).map((name) => [name, readFileSync(join(dir, name)).toString('base64')]));

describe('credence kek rotate', () => {
  it('re-seals every key under a new KEK: each still signs or MACs, and the old KEK opens nothing', async () => {
    const { dir, keys } = await folderWithKeys();
    const oldKek = readFileSync(kekOf(dir), 'utf8');
    const { code, out, err } = await credence(['kek', 'rotate', '--data', dir]);
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(out).toContain('re-sealed 3 wrapping keys and the KEK check value');
    const newKek = readFileSync(kekOf(dir), 'utf8');
    expect(newKek).not.toBe(oldKek);
    // Never a byte of either KEK in what it says.
    expect(out).not.toContain(oldKek.trim());
    expect(out).not.toContain(newKek.trim());
    expect(existsSync(nextKekFileOf(kekOf(dir)))).toBe(false);
    await allWork(dir, keys);

    // A copy of the folder made now, with the leaked (old) KEK put in its place: refused, nothing opened.
    const leaked = join(scratch(), 'leaked');
    cpSync(dir, leaked, { recursive: true });
    writeFileSync(kekOf(leaked), oldKek, { mode: 0o600 });
    const refused = (() => {
      try {
        openDataFolderSecureEnvironment(leaked, { now: () => new Date() }).close();
        return undefined;
      } catch (error) {
        return error;
      }
    })();
    expect(refusalRules(refused)).toContain('kek_matches_database');
  });

  it('a process that opened the folder before the rotation is refused a new key, and stores none (it was sealed under the old KEK, lost)', async () => {
    const { dir, keys } = await folderWithKeys();
    // As `token create --data` beside a stopped service: no lock taken, the keys opened under the KEK of then.
    const opened = openDataFolderSecureEnvironment(dir, { now: () => new Date() });
    try {
      expect((await credence(['kek', 'rotate', '--data', dir])).code).toBe(0);
      const before = snapshot(dir);
      const refused = await opened.generate(OWNER, 'ed25519').then(() => undefined, (error: unknown) => error);
      expect(refusalRules(refused)).toEqual(['kek_matches_database']);
      expect(String((refused as Error).message)).toContain('re-sealed under another KEK');
      expect(snapshot(dir)).toEqual(before);
      // An ephemeral key stays in the process's memory, under its own KEK: nothing on disk to lose.
      await opened.generate(OWNER, 'x25519', { ephemeral: true });
    } finally {
      opened.close();
    }
    const reopened = openDataFolderSecureEnvironment(dir, { now: () => new Date() });
    try {
      expect((await reopened.listKeys(OWNER)).keys.map((k) => k.handle).sort()).toEqual([...keys].sort());
    } finally {
      reopened.close();
    }
    await allWork(dir, keys);
  });

  it('rotates a KEK kept outside the folder (CREDENCE_KEK_FILE), where the service reads it', async () => {
    const kekFile = join(scratch(), 'kek', 'credence.kek');
    const { dir, keys } = await folderWithKeys(kekFile);
    const before = readFileSync(kekFile, 'utf8');
    const { code, out } = await credence(['kek', 'rotate', '--data', dir], { CREDENCE_KEK_FILE: kekFile });
    expect(code).toBe(0);
    expect(out).toContain(`now in ${kekFile}`);
    expect(readFileSync(kekFile, 'utf8')).not.toBe(before);
    expect(existsSync(join(dir, 'secure-environment.kek'))).toBe(false);
    await allWork(dir, keys, kekFile);
  });

  it('is refused while another process holds the folder, and writes nothing', async () => {
    const { dir } = await folderWithKeys();
    const lock = lockDataFolder(dir);
    try {
      const before = snapshot(dir);
      const { code, err } = await credence(['kek', 'rotate', '--data', dir]);
      expect(code).not.toBe(0);
      expect(err).toContain('is in use by');
      expect(err).toContain('refused (validation)');
      expect(snapshot(dir)).toEqual(before);
    } finally {
      lock.release();
    }
  });

  it('is refused for a folder without an embedded Secure Environment, and for a pkcs11: one, naming no URI', async () => {
    const empty = scratch();
    const none = await credence(['kek', 'rotate', '--data', empty]);
    expect(none.code).not.toBe(0);
    expect(none.err).toContain('holds no embedded Secure Environment');
    expect(readdirSync(empty)).toEqual([]);

    const { dir } = await folderWithKeys();
    const before = snapshot(dir);
    const token = await credence(['kek', 'rotate', '--data', dir], { CREDENCE_SECURE_ENVIRONMENT: 'pkcs11:token=credence;pin-value=123456' });
    expect(token.code).not.toBe(0);
    expect(token.err).toContain('is a pkcs11: Secure Environment');
    expect(token.err).toContain('no KEK to rotate');
    expect(token.err).not.toContain('123456');
    expect(snapshot(dir)).toEqual(before);
  });
});

describe('a KEK rotation interrupted between its steps leaves a folder that opens', () => {
  it('crashed after writing the next KEK, before the commit: the KEK still opens every key, and the next rotation goes through', async () => {
    const { dir, keys } = await folderWithKeys();
    const kek = kekOf(dir);
    const oldKek = readFileSync(kek, 'utf8');
    writeNextKek(kek, systemRandom(32));
    await allWork(dir, keys);
    expect(readFileSync(kek, 'utf8')).toBe(oldKek);

    const { code, out } = await credence(['kek', 'rotate', '--data', dir]);
    expect(code).toBe(0);
    expect(out).toContain('re-sealed 3 wrapping keys');
    expect(existsSync(nextKekFileOf(kek))).toBe(false);
    await allWork(dir, keys);
  });

  it('a damaged next KEK beside a KEK that opens the keys is never read: the folder opens', async () => {
    const { dir, keys } = await folderWithKeys();
    writeFileSync(nextKekFileOf(kekOf(dir)), '', { mode: 0o600 });
    await allWork(dir, keys);
  });

  it('crashed after the commit, before the rename: the next KEK opens every key and takes the KEK file', async () => {
    const { dir, keys } = await folderWithKeys();
    const kek = kekOf(dir);
    const oldCopy = join(scratch(), 'old.kek');
    copyFileSync(kek, oldCopy);
    const next = systemRandom(32).slice();
    const { vault } = openVault(secureEnvironmentConfigForDataDir(dir), systemRandom);
    try {
      writeNextKek(kek, next);
      expect(vault.resealUnder(next)).toBe(3);
    } finally {
      vault.close();
    }
    // The KEK file still holds the old KEK, which no longer opens the keys: the next KEK beside it does.
    expect(readFileSync(kek, 'utf8')).toBe(readFileSync(oldCopy, 'utf8'));
    await allWork(dir, keys);
    expect(existsSync(nextKekFileOf(kek))).toBe(false);
    expect(readFileSync(kek, 'utf8')).not.toBe(readFileSync(oldCopy, 'utf8'));
    await allWork(dir, keys);
  });
});

describe('a KEK file a rotation cannot simply rename over (review 128)', () => {
  it('bind-mounted (the rename fails with EBUSY): the new KEK is written into it in place, and every key opens under it', async () => {
    const { dir, keys } = await folderWithKeys();
    const oldKek = readFileSync(kekOf(dir), 'utf8');
    rename.busy = true;
    const { code, err } = await credence(['kek', 'rotate', '--data', dir]);
    rename.busy = false;
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(readFileSync(kekOf(dir), 'utf8')).not.toBe(oldKek);
    expect(existsSync(nextKekFileOf(kekOf(dir)))).toBe(false);
    await allWork(dir, keys);
  });

  it('a symbolic link: refused naming its target, nothing changed (the rename would leave the old KEK there)', async () => {
    const { dir } = await folderWithKeys();
    const target = join(scratch(), 'credence.kek');
    copyFileSync(kekOf(dir), target);
    const link = join(scratch(), 'kek-link');
    symlinkSync(target, link);
    const before = snapshot(dir);
    const kekBefore = readFileSync(target, 'utf8');
    const { rmSync } = await import('node:fs');
    rmSync(kekOf(dir));
    const inFolder = snapshot(dir);
    const { code, err } = await credence(['kek', 'rotate', '--data', dir], { CREDENCE_KEK_FILE: link });
    expect(code).toBe(1);
    expect(err).toContain(`the KEK file ${link} is a symbolic link`);
    expect(err).toContain(target);
    expect(readFileSync(target, 'utf8')).toBe(kekBefore);
    expect(snapshot(dir)).toEqual(inFolder);
    expect(Object.keys(before).length).toBeGreaterThan(Object.keys(inFolder).length);
  });

  it('in a device folder: refused (its commands hold another lock, and would go on sealing under the old KEK)', async () => {
    const { dir } = await folderWithKeys();
    writeFileSync(join(dir, 'device.json'), '{}', { mode: 0o600 });
    const before = snapshot(dir);
    const { code, err } = await credence(['kek', 'rotate', '--data', dir]);
    expect(code).toBe(1);
    expect(err).toContain('is a device folder');
    expect(snapshot(dir)).toEqual(before);
  });

  it('read-only (a secret mounted so): refused before anything is made (review 129: the re-seal was committed, then every opening failed)', async () => {
    const { dir, keys } = await folderWithKeys();
    const before = snapshot(dir);
    rename.readOnly = kekOf(dir);
    const { code, err } = await credence(['kek', 'rotate', '--data', dir]);
    rename.readOnly = '';
    expect(code).toBe(1);
    expect(err).toContain(`the KEK file ${kekOf(dir)} cannot be written (EROFS)`);
    expect(snapshot(dir)).toEqual(before);
    await allWork(dir, keys);
  });

  it('one that cannot take the next KEK after the commit: every opening opens the keys under <kek>.next, which stays', async () => {
    const { dir, keys } = await folderWithKeys();
    const kek = resealedNotRenamed(dir);
    rename.busy = true;
    rename.readOnly = kek;
    await allWork(dir, keys);
    await allWork(dir, keys);
    expect(existsSync(nextKekFileOf(kek))).toBe(true);
    rename.busy = false;
    rename.readOnly = '';
    await allWork(dir, keys);
    expect(existsSync(nextKekFileOf(kek))).toBe(false);
  });

  it('one that cannot take the next KEK: the service starts and says at warn to copy <kek>.next over it (it was silent)', async () => {
    const { dir } = await folderWithKeys();
    const kek = resealedNotRenamed(dir);
    rename.busy = true;
    rename.readOnly = kek;
    const svc = await startTestService({ dir });
    let said: { level: number; msg: string; secureEnvironment?: string } | undefined;
    try {
      said = svc.logs().map((line) => JSON.parse(line) as { level: number; msg: string; secureEnvironment?: string }).find((line) => line.secureEnvironment !== undefined);
    } finally {
      await svc.close();
    }
    expect(said?.level).toBe(40);
    expect(said?.msg).toContain(`copy ${nextKekFileOf(kek)} over ${kek} (mode 0600), then remove ${nextKekFileOf(kek)}`);
    expect(said?.msg).toContain('(rename: EBUSY; in place: EROFS)');
    expect(said?.msg).not.toContain(readFileSync(nextKekFileOf(kek), 'utf8').trim());
    expect(existsSync(nextKekFileOf(kek))).toBe(true);
  }, 30_000);
});
