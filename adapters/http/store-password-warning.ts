import { statSync } from 'node:fs';
import type { ConfigSources, PartialConfig } from './config-sources.ts';
import { storeCarriesPassword, storePasswordOnCommandLine } from './store-password.ts';

/** Whether group or others may read `file` (not said on Windows, whose modes do not tell). */
const readableByOthers = (file: string): boolean => {
  if (process.platform === 'win32') return false;
  const stat = statSync(file, { throwIfNoEntry: false });
  return stat !== undefined && (stat.mode & 0o077) !== 0;
};

/**
 * An event store password where others may read it (review 47 item 3): said, not refused, like `--token` (a lab
 * setup keeps working); the alternative is named. Only for a source whose string was accepted.
 */
export const warnOfStorePassword = (sources: ConfigSources, fromFile: PartialConfig, fromFlags: PartialConfig): void => {
  if (sources.warn === undefined) return;
  if (storeCarriesPassword(fromFlags.store)) {
    sources.warn(storePasswordOnCommandLine("give it in env CREDENCE_STORE or in the config file's store (--config FILE, chmod 600 FILE) instead"));
  }
  if (sources.file !== undefined && storeCarriesPassword(fromFile.store) && readableByOthers(sources.file)) {
    sources.warn(`file ${sources.file}: store: the connection string carries a password and the file is readable by group or others; chmod 600 ${sources.file}`);
  }
};
