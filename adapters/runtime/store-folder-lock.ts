import { existsSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { validationError } from '../../domain/errors.ts';
import { describeHolder, SERVICE_LOCK_FILE, tryLockDataFolder as tryLockFolderOfStore, type DataFolderLock } from '../driven/files/index.ts';
import { EVENTS_DB_FILE, markingStoreFolder, parseStoreConnectionString, type StoreLocation } from '../driven/store/index.ts';

/**
 * The lock of the folder of an embedded store kept outside the data folder (`sqlite:<folder>`), for a command that
 * writes to that store: the data folder's lock guards its own folder only, and two services on one events.db, each on
 * a data folder of its own, both ran the cascade, the expiry schedule and the pseudonym rotation on it (review 174).
 * Taken as a data folder's (service-lock.db, service.lock naming this process), so a service whose data folder it is
 * and any other writer of it are refused meanwhile; refused itself, naming the holder, while another process holds it.
 * Undefined for any other store, and for the data folder's own (the caller's lock of the data folder holds it).
 * `setting` names where the store came from (`flag --store`, `env CREDENCE_STORE`, `file F: store`).
 */
export const lockStoreFolder = (data: string, store: StoreLocation | undefined, setting: string): DataFolderLock | undefined => {
  if (store?.kind !== 'sqlite' || sameFolder(data, store.dir)) return undefined;
  // Its lock is a file of the store's folder: a full disk there is said as that folder's (review 377 item 1).
  const taken = markingStoreFolder(store.dir, () => tryLockFolderOfStore(store.dir));
  if ('lock' in taken) return taken.lock;
  throw validationError(
    [
      {
        path: setting,
        rule: 'unlocked',
        message:
          `${store.dir}, the folder of this event store, is in use by ${describeHolder(taken.heldBy)} (${SERVICE_LOCK_FILE}): ` +
          'one process at a time writes an embedded store; stop that service first, or, if it is another credence command, let it end',
      },
    ],
    'event store',
  );
};

/**
 * Whether two folder paths name one folder: the same file once both exist (a link, `.`), else the same place, a
 * folder not made yet being where its nearest existing parent really is plus the rest of its path (review 177:
 * `link/d` and `real/d`, `link` a link to `real`, are one folder before either is made).
 */
const sameFolder = (a: string, b: string): boolean => {
  const idOf = (dir: string): string => {
    const stat = statSync(dir, { throwIfNoEntry: false });
    return stat === undefined ? `path:${placeOfNew(dir)}` : `file:${stat.dev}:${stat.ino}`;
  };
  return idOf(a) === idOf(b);
};

/** Where folder `dir`, not made yet, will be: the real path of its nearest existing parent, then the rest of its path. */
const placeOfNew = (dir: string): string => {
  const rest: string[] = [];
  let parent = dir;
  while (!existsSync(parent)) {
    const up = dirname(parent);
    if (up === parent) return resolve(dir); // nothing of it exists (not even the working folder): as written
    rest.unshift(basename(parent));
    parent = up;
  }
  return resolve(realpathSync(parent), ...rest);
};

/**
 * lockStoreFolder for a service started on the store of the connection string `store` (undefined: its data folder's),
 * with how to let go of it once the store is closed: released when the store's folder holds an events.db (the start
 * wrote there, or found it), else discarded, so a refused start leaves a folder this lock made as it found it.
 */
export const lockServedStoreFolder = (data: string, store: string | undefined, setting: string): { letGo(): void } | undefined => {
  if (store === undefined) return undefined;
  const location = parseStoreConnectionString(store, setting);
  const lock = lockStoreFolder(data, location, setting);
  if (lock === undefined || location.kind !== 'sqlite') return undefined;
  return { letGo: () => (existsSync(join(location.dir, EVENTS_DB_FILE)) ? lock.release() : lock.discard()) };
};
