/** Small file-system utilities shared by the driven adapters that keep single-file state (keys, handles, KEKs, SQLite files). */
export { ATOMIC_WRITE_TEMP, atomicWriteTempOf, fsyncFolder, writeFileAtomic, writeFileAtomicFrom } from './atomic-write.ts';
export { removeAtomicWriteStrays } from './atomic-write-strays.ts';
export type { AtomicWriteOptions } from './atomic-write.ts';
export {
  assertNoneForeignOwned,
  assertOwnedByProcess,
  assertOwnedByProcessIfPresent,
  foreignOwnedPath,
  foreignOwnedPathsIn,
  MAX_NAMED_FOREIGN_PATHS,
  DATA_DIR_MODE,
  DATA_FILE_MODE,
  openToGroupOrOthers,
  preparePrivateDatabaseFile,
  preparePrivateDir,
  tightenPrivateDatabaseFile,
  withPrivateUmask,
  type ForeignOwnedPath,
} from './private-files.ts';
export { openPrivateSqlite } from './private-sqlite.ts';
export { isWriteLockHeld, LockHeldElsewhere, waitForOtherWritersAtMost, writingTo } from './lock-wait.ts';
export { openReadingConnection } from './reading-connection.ts';
export { refuseUnwritableFolder } from './unwritable-folder.ts';
export { ownedByAnotherAccount, trustedFolderProblem, withTrustedFile, writableByGroupOrOthers } from './trusted-file.ts';
export type { TrustedFileRead } from './trusted-file.ts';
export type { PrivateSqliteLocation, PrivateSqliteOptions } from './private-sqlite.ts';
export { describeHolder, DEVICE_LOCK_DB_FILE, lockDataFolder, SERVICE_LOCK_FILE, tryLockDataFolder, tryLockFolder } from './data-folder-lock.ts';
export type { DataFolderHolder, DataFolderLock, FolderLockFiles } from './data-folder-lock.ts';
