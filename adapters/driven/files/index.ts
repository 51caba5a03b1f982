/** Small file-system utilities shared by the driven adapters that keep single-file state (keys, handles, KEKs). */
export { writeFileAtomic } from './atomic-write.ts';
export type { AtomicWriteOptions } from './atomic-write.ts';
export { DATA_DIR_MODE, DATA_FILE_MODE, preparePrivateDatabaseFile, preparePrivateDir, withPrivateUmask } from './private-files.ts';
export { lockDataFolder, SERVICE_LOCK_FILE } from './data-folder-lock.ts';
export type { DataFolderLock } from './data-folder-lock.ts';
