import { existsSync, realpathSync, statSync } from 'node:fs';
import { isKeyNotFound, validationError } from '../../domain/errors.ts';
import type { KeyDestroyedSince } from '../../adapters/driven/secure-environment/destroyed-since.ts';
import { ownerView, type KeyHandle } from '../../domain/ports/index.ts';
import type { Io } from '../io.ts';
import { printable } from '../printable.ts';
import { UsageError } from '../program.ts';
import { withLockedKeyFolders, type KeyFolders } from './key-folders.ts';
import { KEY_OWNERS, keyUsesIn, whatNames, type KeyUse } from './keys-in-use.ts';

/**
 * A key the restored folder signs with next (its current API token signing key) is never destroyed here: its tokens
 * could no longer be issued nor the key rotated (review 96: a key step 3 made looked destroyed since the backup once
 * a command had destroyed a key in the folder moved aside after the restore). README's step 3 runs first, retiring a
 * key withdrawn since; refused, nothing destroyed, naming each such key. Likewise the log key the restored
 * transparency.handle names (review 378): a log restarted under a new key since the backup (the event store restored
 * alone) destroyed it, and destroyed again, the restored log's signer refused every checkpoint for ever. README's step
 * 6 moves that log aside, its handle with it, and a new log starts; then this destroys the key, named by nothing.
 */
const refuseDestroyingACurrentSigningKey = (destroyed: readonly KeyDestroyedSince[], uses: ReadonlyMap<string, KeyUse>, beforeRestore: string, data: string): void => {
  const said = (keys: readonly KeyDestroyedSince[]): string =>
    keys.map((key) => `${key.handle} (${key.owner} ${key.kind}, made ${key.createdAt}): ${whatNames(uses.get(key.handle)!)}`).join('; ');
  const current = destroyed.filter((key) => uses.get(key.handle)?.current === 'rotate_first');
  const log = destroyed.filter((key) => uses.get(key.handle)?.current === 'move_log_first');
  if (current.length === 0 && log.length === 0) return;
  throw validationError(
    [
      ...(current.length === 0
        ? []
        : [
            {
              path: 'beforeRestore',
              rule: 'current_signing_key',
              message:
                `${said(current)}: ` +
                `destroyed, no token could be issued. Run step 3 first (credence token rotate-key --data <data>, with --withdraw-previous if that is how it ran since the backup), then this again; ` +
                `if it ran already, ${beforeRestore} changed since the restore (a command that destroyed a key there): its last key change no longer tells the keys made since the restore. Nothing was destroyed [current_signing_key]`,
            },
          ]),
      ...(log.length === 0
        ? []
        : [
            {
              path: 'beforeRestore',
              rule: 'current_log_key',
              message:
                `${said(log)}: destroyed since the backup (a new log was started since), and destroyed again, the restored log would sign nothing more. ` +
                `Move the restored log aside first (README, "Restoring a whole data folder", step 6, as "Restoring the event store from a backup", step 4): ` +
                `its transparency.db (with its -wal and -shm), transparency.handle and transparency.pub out of ${data} into a folder of their own, say ${data}.restored-log/, never into ${beforeRestore}; ` +
                `then run this again, which destroys that key. Nothing was destroyed [current_log_key]`,
            },
          ]),
    ],
    'Secure Environment restore',
  );
};

/**
 * A restored folder whose keys are sealed under a KEK the folder moved aside was rotated away from since the backup
 * (`credence kek rotate`, review 131): refused, nothing destroyed, until it is rotated again. Started so, it would seal
 * every key it makes from then on under that KEK, which the rotation was run to retire (perhaps because it leaked), and
 * nothing else tells the operator: the folder opens under its own KEK without a word. Refused rather than warned: this
 * command is the restore's step the operator runs before the first start, a warning among its lines is easy to miss,
 * and rotating first costs nothing here (the keys to destroy are re-sealed, then destroyed). With the KEK outside the
 * folder, the file CREDENCE_KEK_FILE names is said to be what its check value shows (`opens`, review 243 item 3): the
 * KEK the folder moved aside opens under, never to be replaced by the rotation (the old KEK goes to another path, and
 * the service to the new one); or a copy of the backup's made for the restored folder, the one to rotate; or neither.
 */
/** The warning for a restored folder under another KEK than the folder moved aside, which that folder names nowhere. */
const otherKek = (data: string, beforeRestore: string): string =>
  `warning: the keys of ${data} are sealed under another KEK than ${beforeRestore}, which records no rotation away from it: ` +
  `if credence kek rotate ran on ${beforeRestore} since the backup (a version before this one recorded none), the restore brought back ` +
  `the KEK it retired: run credence kek rotate --data ${data} before the first start; if you rotated ${data} since the restore, nothing to do`;

const rotateOutside = (data: string, beforeRestore: string, kekFile: string, opens: 'later' | 'restored' | undefined): string => {
  if (opens === 'restored') {
    return (
      `${kekFile} holds the KEK ${data} opens under (the backup's, which ${beforeRestore} retired): keep a copy of it with that backup if it is the only one, ` +
      `then run CREDENCE_KEK_FILE=${kekFile} credence kek rotate --data ${data}, which replaces it with a new KEK, and run this and the service with CREDENCE_KEK_FILE naming it`
    );
  }
  const copy =
    `copy the KEK kept with that backup to a new path (mode 0600) and run CREDENCE_KEK_FILE=<that path> credence kek rotate --data ${data}, ` +
    `which replaces that copy with a new KEK, and run this and the service with CREDENCE_KEK_FILE naming it`;
  return opens === 'later'
    ? `${copy}; never overwrite ${kekFile}: it holds the KEK ${beforeRestore} opens under`
    : `${copy}; ${kekFile} opens the keys of neither folder (or is no readable KEK): never overwrite the KEK file ${beforeRestore} opens under`;
};

const refuseARetiredKek = (data: string, beforeRestore: string, kekFile: string | undefined, opens: () => 'later' | 'restored' | undefined): never => {
  const rotate =
    kekFile === undefined
      ? `run credence kek rotate --data ${data} (its KEK is the backup's, in the folder; the rotation replaces it)`
      : rotateOutside(data, beforeRestore, kekFile, opens());
  throw validationError(
    [
      {
        path: 'data',
        rule: 'kek_rotated_since_backup',
        message:
          `the keys of ${data} are sealed under a KEK that ${beforeRestore} was re-sealed away from since the backup (credence kek rotate): ` +
          `started so, every key made from then on would be sealed under that old KEK again (the one the rotation retired, perhaps because it leaked). ` +
          `Nothing was destroyed. Before the first start, ${rotate}; then run this again [kek_rotated_since_backup]`,
      },
    ],
    'Secure Environment restore',
  );
};

/**
 * `credence key destroy-since-backup --data DIR --before-restore DIR` (README "Restoring a whole data folder"): a
 * whole-folder restore brings back, in the embedded Secure Environment, every key destroyed after the backup was
 * taken (crypto-shredded PSK copies and session keys, withdrawn token signing keys, retired OCSP and log keys),
 * since the backup holds their wrapping keys. Destroying must be final, so this destroys again, in the restored
 * folder, each key its folder moved aside no longer holds and that was made before that folder's last key change
 * (keysDestroyedSince: one made since the restore, as by a rotation of step 3, is kept), through the key's own owner,
 * under the restored folder's lock. What the restored records still name is said per key: the entity to end again, the rotation
 * to run again. A token is no part of a data folder: a restore brings back none of its keys (refused as usage).
 */
export const destroyKeysSinceBackup = (folders: KeyFolders, beforeRestore: string, io: Io): Promise<number> => {
  const data = folders.data[0]!;
  if (folders.secureEnvironment !== undefined && folders.secureEnvironment !== 'embedded') {
    throw new UsageError(
      'the keys are in a pkcs11: token, which a restore of the data folder does not bring back: a key destroyed there stays destroyed, and nothing is to be done',
    );
  }
  if (!existsSync(beforeRestore) || !statSync(beforeRestore).isDirectory()) throw new UsageError(`--before-restore: no data folder at ${beforeRestore}`);
  if (existsSync(data) && realpathSync(data) === realpathSync(beforeRestore)) {
    throw new UsageError(`--before-restore: ${beforeRestore} is the restored folder itself: name the folder moved aside before the restore`);
  }
  return withLockedKeyFolders(folders, 'key destroy-since-backup', io, async (locked) => {
    const { copyKekFileOpens, kekOfRestored, keysDestroyedSince, secureEnvironmentConfigForDataDir, wrappingKeysPath } = await import('../../adapters/driven/secure-environment/index.ts');
    const files = (dir: string) => {
      const config = secureEnvironmentConfigForDataDir(dir);
      return { database: config.database, wrappingKeys: wrappingKeysPath(config) };
    };
    // Before the keys are compared: under CREDENCE_KEK_FILE such a folder does not even open, and its destroys would wait.
    const kek = kekOfRestored(files(data), files(beforeRestore));
    if (kek === 'retired') {
      const kekFile = (io.env ?? process.env)['CREDENCE_KEK_FILE'] || undefined;
      refuseARetiredKek(data, beforeRestore, kekFile, () => (kekFile === undefined ? undefined : copyKekFileOpens(kekFile, files(data), files(beforeRestore))));
    }
    // A rotation made by an earlier version named no KEK it retired (review 141): said, not refused, since a restored folder
    // rotated again since the restore looks the same from here.
    if (kek === 'other') io.err(printable(otherKek(data, beforeRestore)));
    // Read, and refused when the two copies cannot be trusted to say it, before the Secure Environment opens.
    // The clock that dated the keys made since the restore (the Secure Environment's, key-folders.ts): one behind the
    // folder moved aside could date them before its last change, and is refused.
    const { destroyed, madeSinceRestore } = keysDestroyedSince(files(data), files(beforeRestore), new Date());
    const uses = new Map<string, KeyUse>();
    for (const owner of new Set(destroyed.map((key) => key.owner))) {
      if (!Object.hasOwn(KEY_OWNERS, owner)) continue;
      const handles = destroyed.filter((key) => key.owner === owner).map((key) => key.handle);
      for (const [handle, use] of await keyUsesIn(locked.folders, owner, handles)) uses.set(handle, use);
    }
    refuseDestroyingACurrentSigningKey(destroyed, uses, beforeRestore, data);
    // A current OCSP signing key the folder moved aside renewed and destroyed since the backup signs the restored
    // folder's OCSP responses again: destroyed, its start failed on a key that does not exist (review 98). Kept; the
    // service renews it as it did before the restore.
    const signing = destroyed.filter((key) => uses.get(key.handle)?.current === 'renewed_by_service');
    const se = locked.secureEnvironment();
    for (const key of destroyed.filter((k) => !signing.includes(k))) {
      await ownerView(se, key.owner)
        .destroy(key.handle as KeyHandle)
        .catch((error: unknown) => {
          if (!isKeyNotFound(error)) throw error;
        });
      const use = uses.get(key.handle);
      const named = use === undefined ? '' : `; the restored folder still names it: ${whatNames(use)} [${use.rule}]`;
      io.out(printable(`destroyed again ${key.handle} (${key.owner} ${key.kind}, made ${key.createdAt}), destroyed since the backup${named}`));
    }
    for (const key of signing) {
      io.out(
        printable(
          `kept ${key.handle} (${key.owner} ${key.kind}, made ${key.createdAt}), destroyed since the backup, which the restored folder signs with: ${whatNames(uses.get(key.handle)!)}; ` +
            "the service retires it at the signer's next renewal and destroys it at the one after, as before the restore",
        ),
      );
    }
    for (const key of madeSinceRestore) {
      io.out(printable(`kept ${key.handle} (${key.owner} ${key.kind}, made ${key.createdAt}), made since the restore: after the last key change of ${beforeRestore}`));
    }
    io.out(
      printable(
        destroyed.length === 0
          ? `no key of ${data} was destroyed since the backup: ${beforeRestore} holds every one it holds${madeSinceRestore.length > 0 ? ' but those made since the restore' : ''}`
          : `${destroyed.length - signing.length} key(s) destroyed since the backup destroyed again in ${data}${signing.length > 0 ? ` (${signing.length} kept, which it signs with)` : ''}: once the service has started (the revocations go through it, as step 1's; bind it to 127.0.0.1 until then if it must take no traffic), end again each entity named, and run again each rotation named`,
      ),
    );
    return 0;
  });
};
