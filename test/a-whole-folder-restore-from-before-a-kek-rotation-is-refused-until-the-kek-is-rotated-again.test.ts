import { copyFileSync, cpSync, readFileSync, renameSync } from 'node:fs';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { secureEnvironmentConfigForDataDir, wrappingKeysPath } from '../adapters/driven/secure-environment/index.ts';
import { openDataFolderSecureEnvironment } from '../adapters/runtime/index.ts';
import { main } from '../bin/cli.ts';
import { ownerView, type OwnedSecureEnvironment } from '../domain/ports/index.ts';
import { capture } from './support/cli.ts';
import { isHeld } from './support/key-held.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 131 finding 1: a whole-folder restore quietly undid `credence kek rotate`. Backed up, rotated (say because the
 * KEK leaked), then restored: `key destroy-since-backup` said nothing was destroyed and the service started, the folder
 * back under the KEK the rotation retired, which then sealed every key made after the restore. The rotation now names
 * the KEK it rotated out in the key database (by its check value's digest, no KEK byte), and `key destroy-since-backup`
 * refuses a restored folder sealed under a KEK the folder moved aside retired (`kek_rotated_since_backup`, nothing
 * destroyed) until `credence kek rotate` ran on it again. With the KEK outside the folder, the refusal says to rotate
 * a copy of the backup's KEK at another path, never over the file that holds the folder moved aside's KEK.
 */
const scratch = temporaryFolders('credence-restore-kek-rotated-');
const OWNER = 'maf:infrastructure';

const credence = async (argv: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> => {
  const { io, out, err } = capture();
  const code = await main(argv, { ...io, env });
  return { code, out: out.join('\n'), err: err.join('\n') };
};

const withSe = async <T>(dir: string, kekFile: string | undefined, use: (se: OwnedSecureEnvironment) => Promise<T>): Promise<T> => {
  const se = openDataFolderSecureEnvironment(dir, { now: () => new Date(), ...(kekFile !== undefined ? { kekFile } : {}) });
  try {
    return await use(ownerView(se, OWNER));
  } finally {
    se.close();
  }
};

const kekFileOf = (dir: string, kekFile: string | undefined): string => {
  const kek = secureEnvironmentConfigForDataDir(dir, kekFile).kek;
  if (kek.source !== 'file') throw new TypeError('a data folder keeps its KEK in a file');
  return kek.path;
};

/** The key database and its wrapping-key file, as bytes: what a refused destroy must leave as it was. */
const keyFiles = (dir: string): string[] => {
  const config = secureEnvironmentConfigForDataDir(dir);
  return [config.database, wrappingKeysPath(config)].map((file) => readFileSync(file).toString('base64'));
};

/**
 * A folder with keys `kept` and `shredded`, backed up (with a copy of its KEK, as README says to keep one with a
 * backup), then `shredded` destroyed and, when `rotate`, the KEK rotated; then moved aside and the backup copied into
 * place (README "Restoring a whole data folder").
 */
const restoredAfter = async ({ rotate, kekOutside, rotatedByAnEarlierVersion = false }: { rotate: boolean; kekOutside: boolean; rotatedByAnEarlierVersion?: boolean }) => {
  const root = scratch();
  const data = join(root, 'data');
  const kekFile = kekOutside ? join(root, 'secrets', 'credence.kek') : undefined;
  const env: Record<string, string> = kekFile !== undefined ? { CREDENCE_KEK_FILE: kekFile } : {};
  const [kept, shredded] = await withSe(data, kekFile, async (se) => [await se.generate('psk256'), await se.generate('psk256')] as const);
  cpSync(data, join(root, 'backup'), { recursive: true });
  const backupKek = join(root, 'backup.kek');
  copyFileSync(kekFileOf(data, kekFile), backupKek);
  await withSe(data, kekFile, (se) => se.destroy(shredded));
  if (rotate) {
    const rotated = await credence(['kek', 'rotate', '--data', data], env);
    expect(rotated.code, rotated.err).toBe(0);
    // What a version before `kek_retired` left: the rotation, without its record of the KEK it retired.
    if (rotatedByAnEarlierVersion) {
      const db = new Database(secureEnvironmentConfigForDataDir(data, kekFile).database);
      db.prepare("DELETE FROM se_meta WHERE name = 'kek_retired'").run();
      db.close();
    }
  }
  const aside = join(root, 'data.before-restore');
  renameSync(data, aside);
  cpSync(join(root, 'backup'), data, { recursive: true });
  return { root, data, aside, kept, shredded, kekFile, env, backupKek };
};

const destroySinceBackup = (data: string, aside: string, env: Record<string, string>) =>
  credence(['key', 'destroy-since-backup', '--data', data, '--before-restore', aside], env);

describe('key destroy-since-backup on a folder restored from before a KEK rotation', () => {
  it('KEK in the folder: refused (kek_rotated_since_backup), nothing destroyed, until credence kek rotate ran on it; then it destroys again', async () => {
    const { data, aside, kept, shredded, backupKek } = await restoredAfter({ rotate: true, kekOutside: false });
    const before = keyFiles(data);

    const refused = await destroySinceBackup(data, aside, {});
    expect(refused.code).toBe(1);
    expect(refused.err).toContain(`the keys of ${data} are sealed under a KEK that ${aside} was re-sealed away from since the backup (credence kek rotate)`);
    expect(refused.err).toContain(`Nothing was destroyed. Before the first start, run credence kek rotate --data ${data}`);
    expect(refused.err).toContain('[kek_rotated_since_backup]');
    for (const kek of [readFileSync(kekFileOf(data, undefined), 'utf8'), readFileSync(kekFileOf(aside, undefined), 'utf8')]) {
      expect(`${refused.out}\n${refused.err}`).not.toContain(kek.trim());
    }
    expect(keyFiles(data)).toEqual(before);
    expect(await withSe(data, undefined, (se) => isHeld(se, shredded))).toBe(true);

    // As the refusal says: rotated again, the restored folder no longer opens under the KEK rotated out; then the
    // destroy goes through.
    expect((await credence(['kek', 'rotate', '--data', data])).code).toBe(0);
    expect(readFileSync(kekFileOf(data, undefined), 'utf8')).not.toBe(readFileSync(backupKek, 'utf8'));
    const destroyed = await destroySinceBackup(data, aside, {});
    expect(destroyed.code, destroyed.err).toBe(0);
    expect(destroyed.out).toContain(`destroyed again ${shredded}`);
    expect(await withSe(data, undefined, (se) => isHeld(se, shredded))).toBe(false);
    expect(await withSe(data, undefined, (se) => isHeld(se, kept))).toBe(true);
  });

  it('KEK outside (CREDENCE_KEK_FILE): refused, saying to rotate a copy of the backup\'s KEK at another path, never over the one the folder moved aside opens under', async () => {
    const { root, data, aside, kept, shredded, kekFile, env, backupKek } = await restoredAfter({ rotate: true, kekOutside: true });
    const current = readFileSync(kekFile!, 'utf8');

    const refused = await destroySinceBackup(data, aside, env);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('[kek_rotated_since_backup]');
    expect(refused.err).toContain(`copy the KEK kept with that backup to a new path (mode 0600) and run CREDENCE_KEK_FILE=<that path> credence kek rotate --data ${data}`);
    expect(refused.err).toContain(`never overwrite ${kekFile}: it holds the KEK ${aside} opens under`);
    expect(readFileSync(kekFile!, 'utf8')).toBe(current);

    // As it says: the backup's KEK copied to a new path and rotated there; the folder moved aside keeps its KEK.
    const fresh = join(root, 'secrets', 'restored.kek');
    copyFileSync(backupKek, fresh);
    expect((await credence(['kek', 'rotate', '--data', data], { CREDENCE_KEK_FILE: fresh })).code).toBe(0);
    const destroyed = await destroySinceBackup(data, aside, { CREDENCE_KEK_FILE: fresh });
    expect(destroyed.code, destroyed.err).toBe(0);
    expect(await withSe(data, fresh, (se) => isHeld(se, shredded))).toBe(false);
    expect(await withSe(data, fresh, (se) => isHeld(se, kept))).toBe(true);
    expect(await withSe(aside, kekFile, (se) => isHeld(se, kept))).toBe(true);
  });

  it('a rotation made by an earlier version, which named no KEK it retired: said on stderr, not refused (review 141: nothing was said)', async () => {
    const { data, aside, shredded } = await restoredAfter({ rotate: true, kekOutside: false, rotatedByAnEarlierVersion: true });

    const run = await destroySinceBackup(data, aside, {});
    expect(run.code, run.err).toBe(0);
    expect(run.err).toContain(`warning: the keys of ${data} are sealed under another KEK than ${aside}, which records no rotation away from it`);
    expect(run.err).toContain(`run credence kek rotate --data ${data} before the first start`);
    expect(run.out).toContain(`destroyed again ${shredded}`);
    expect(`${run.out}\n${run.err}`).not.toContain(readFileSync(kekFileOf(data, undefined), 'utf8').trim());
  });

  it('no rotation since the backup (one before it, none after): goes through as before, saying nothing of the KEK', async () => {
    const root = scratch();
    const data = join(root, 'data');
    const shredded = await withSe(data, undefined, (se) => se.generate('psk256'));
    expect((await credence(['kek', 'rotate', '--data', data])).code).toBe(0);
    cpSync(data, join(root, 'backup'), { recursive: true });
    await withSe(data, undefined, (se) => se.destroy(shredded));
    const aside = join(root, 'data.before-restore');
    renameSync(data, aside);
    cpSync(join(root, 'backup'), data, { recursive: true });

    const run = await destroySinceBackup(data, aside, {});
    expect(run.code, run.err).toBe(0);
    expect(run.out).toContain(`destroyed again ${shredded}`);
    expect(run.err).not.toContain('another KEK');
  });
});

describe('a restored folder opened under the KEK its folder moved aside was rotated to', () => {
  it('is refused kek_matches_database naming a backup from before credence kek rotate, and to keep the KEK file in place elsewhere first', async () => {
    const { data, kekFile, env } = await restoredAfter({ rotate: true, kekOutside: true });
    const listed = await credence(['key', 'list', '--data', data], env);
    expect(listed.code).not.toBe(0);
    expect(listed.err).toContain(`env CREDENCE_KEK_FILE: the KEK file ${kekFile} does not open the key database`);
    expect(listed.err).toContain('or the folder restored from a backup taken before credence kek rotate, which needs the KEK of then');
    expect(listed.err).toContain(`keeping the KEK file now at ${kekFile} at another path first`);
    expect(listed.err).toContain('run credence kek rotate again before the first start');
    expect(listed.err).not.toContain(readFileSync(kekFile!, 'utf8').trim());
  });
});
