/**
 * Review 313 #1: an events.db restored into a fresh folder (an online backup of it, nothing else) was refused for its
 * pseudonym PRF key (`pseudonym_prf_key_not_recorded`: keys.db records none while the log holds pseudonyms) only after
 * the start had made a KEK, an embedded Secure Environment, a new log key and its transparency.handle and
 * transparency.pub, an empty transparency.db, readmodels.db and keys.db there. The refusal's own remedy then failed
 * twice: it named the Secure Environment's files of the same backup but not its KEK (refused for the KEK the refused
 * start made), and with the KEK back the transparency.handle the refused start wrote named a key the restored Secure
 * Environment does not hold. Now the check runs before the Secure Environment and the log key are opened or made: the
 * folder is left byte for byte as it was, and its remedy (the KEK named beside the other files) starts the folder.
 */
import Database from 'better-sqlite3';
import { copyFileSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { folderSnapshot, servedFolder } from './support/served-folder.ts';
import { startTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const folder = temporaryFolders('credence-restored-events-db-alone-');

/** Every file of `dir`, by name, with a digest of its bytes, and the folder's mode. */
const snapshot = (dir: string): { mode: number; files: Record<string, string> } => ({ mode: statSync(dir).mode, files: folderSnapshot(dir) });

/** README "Taking a backup": SQLite's online backup of events.db, into a folder of its own. */
const onlineBackup = (dir: string): string => {
  const backup = folder();
  const db = new Database(join(dir, 'events.db'), { readonly: true });
  try {
    db.exec(`VACUUM INTO '${join(backup, 'events.db')}'`);
  } finally {
    db.close();
  }
  return backup;
};

const startRefused = async (dir: string): Promise<{ problem: { code: string; reason: string; message: string } }> => {
  try {
    const svc = await startTestService({ dir });
    await svc.close();
  } catch (error) {
    return error as { problem: { code: string; reason: string; message: string } };
  }
  throw new Error('the start was not refused');
};

describe('an events.db restored alone into a new folder, its log holding pseudonyms', () => {
  it('refuses the start for the pseudonym PRF key with every file of the folder as it was, no KEK, Secure Environment or log key made', async () => {
    const { dir } = await servedFolder(folder());
    const backup = onlineBackup(dir);
    const restored = join(folder(), 'restored');
    mkdirSync(restored, { mode: 0o700 });
    copyFileSync(join(backup, 'events.db'), join(restored, 'events.db'));
    const before = snapshot(restored);

    const error = await startRefused(restored);
    expect(error).toMatchObject({ problem: { code: 'secure_environment_unavailable', reason: 'pseudonym_prf_key_not_recorded' } });
    expect(snapshot(restored)).toEqual(before);
    expect(Object.keys(snapshot(restored).files)).toEqual(['events.db']);
  }, 60_000);

  it("names the KEK beside the Secure Environment's other files in its remedy, and that remedy, followed, starts the folder with the log's pseudonyms", async () => {
    const { dir, pseudonym } = await servedFolder(folder());
    const backup = onlineBackup(dir);
    const restored = join(folder(), 'restored');
    mkdirSync(restored, { mode: 0o700 });
    copyFileSync(join(backup, 'events.db'), join(restored, 'events.db'));

    const { message } = (await startRefused(restored)).problem;
    expect(message).toContain('secure-environment.sqlite');
    expect(message).toContain('secure-environment.wrapping-keys');
    expect(message).toContain('secure-environment.kek');
    expect(message).toContain('CREDENCE_KEK_FILE');

    // The remedy: keys.db with the embedded Secure Environment of the same backup, its KEK too (the served folder,
    // stopped cleanly, is that backup).
    for (const file of ['keys.db', 'secure-environment.sqlite', 'secure-environment.wrapping-keys', 'secure-environment.kek']) {
      copyFileSync(join(dir, file), join(restored, file));
    }
    const svc = await startTestService({ dir: restored });
    try {
      expect(await svc.service.context.credence.pseudonyms!.deriver.node('meter-1', 0)).toBe(pseudonym);
    } finally {
      await svc.close();
    }
  }, 60_000);
});
