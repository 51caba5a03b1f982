import { cpSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KEY_HANDLE_FILE, LOG_KEY_OWNER } from '../adapters/driven/transparency/index.ts';
import { runCli } from './support/cli.ts';
import { isHeld, withDataFolderSe } from './support/key-held.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 378 (2): a whole-folder backup; later the event store alone restored (README "Restoring the event store from a
 * backup", step 4: a new log under a new key L2, the old key L1 destroyed by `log-key destroy`); then the whole folder
 * restored from that backup, whose transparency.handle names L1. `key destroy-since-backup` destroyed L1, only noting
 * [log_key_in_use], and the restored log's signer refused for ever. The key the restored folder's transparency.handle
 * names is refused as the current token signing key is (nothing destroyed), saying to move the restored log aside first.
 */
const scratch = temporaryFolders('credence-destroy-since-backup-log-key-');

const generateLogKey = (dir: string) => withDataFolderSe(dir, LOG_KEY_OWNER, (se) => se.generate('ed25519'));

/** The restored folder and the folder moved aside, with the log key L1 the backup's transparency.handle names. */
const restoredOverANewLog = async () => {
  const root = scratch();
  const data = join(root, 'data');
  const l1 = await generateLogKey(data);
  writeFileSync(join(data, KEY_HANDLE_FILE), `${l1}\n`);
  cpSync(data, join(root, 'backup'), { recursive: true });
  // The event store restored alone: a new log under L2, L1 destroyed as `credence log-key destroy` does.
  const l2 = await generateLogKey(data);
  writeFileSync(join(data, KEY_HANDLE_FILE), `${l2}\n`);
  await withDataFolderSe(data, LOG_KEY_OWNER, (se) => se.destroy(l1));
  const aside = join(root, 'data.before-restore');
  renameSync(data, aside);
  cpSync(join(root, 'backup'), data, { recursive: true });
  return { root, data, aside, l1 };
};

describe('credence key destroy-since-backup, the restored transparency.handle naming a log key destroyed since the backup', () => {
  it('refuses (exit 1, current_log_key) naming the key and the step to run first; nothing destroyed', async () => {
    const { data, aside, l1 } = await restoredOverANewLog();

    const run = await runCli(['key', 'destroy-since-backup', '--data', data, '--before-restore', aside]);

    expect(run.code, run.out).toBe(1);
    expect(run.err).toContain('[current_log_key]');
    expect(run.err).toContain(l1);
    expect(run.err).toContain('transparency.handle');
    expect(run.err).toContain('Nothing was destroyed');
    expect(await withDataFolderSe(data, LOG_KEY_OWNER, (se) => isHeld(se, l1))).toBe(true);
  }, 60_000);

  it('destroys it once the restored log is moved aside (step 6 first), as any key destroyed since the backup', async () => {
    const { root, data, aside, l1 } = await restoredOverANewLog();
    // README, "Restoring a whole data folder", step 6: the restored log and its handle moved into a folder of their own.
    const restoredLog = join(root, 'data.restored-log');
    cpSync(join(data, KEY_HANDLE_FILE), join(restoredLog, KEY_HANDLE_FILE), { recursive: true });
    rmSync(join(data, KEY_HANDLE_FILE));

    const run = await runCli(['key', 'destroy-since-backup', '--data', data, '--before-restore', aside]);

    expect(run.code, run.err).toBe(0);
    expect(run.out).toContain(`destroyed again ${l1}`);
    expect(await withDataFolderSe(data, LOG_KEY_OWNER, (se) => isHeld(se, l1))).toBe(false);
  }, 60_000);
});
