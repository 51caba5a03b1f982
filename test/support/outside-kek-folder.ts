import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { openSqliteStoreInDir } from '../../adapters/driven/store/index.ts';
import { openServiceSecureEnvironment } from '../../adapters/runtime/index.ts';

/** The uid tests give a file or folder to make it another account's (chown: root only). */
export const NOBODY = 65534;

/** Above Linux's largest pid (2^22): never a running process, as the pid of a killed writer is not. */
export const DEAD_PID = 4_194_305;

/** The file name of the KEK these folders keep outside the data folder. */
export const OUTSIDE_KEK = 'credence.kek';

/**
 * A data folder (`<parent>/data`) with a store and its KEK outside it (`<parent>/secrets/credence.kek`, named by
 * CREDENCE_KEK_FILE in `env`), and an hour-old temp of a killed write in the data folder, and with `besideKek` one
 * beside the KEK too: what a lock's sweep would remove, were it taken.
 */
export const dataFolderWithOutsideKek = async (parent: string, { besideKek = false } = {}) => {
  const dir = join(parent, 'data');
  const kekFolder = join(parent, 'secrets');
  mkdirSync(kekFolder, { mode: 0o700 });
  const kek = join(kekFolder, OUTSIDE_KEK);
  const env = { CREDENCE_KEK_FILE: kek };
  openServiceSecureEnvironment(dir, undefined, { now: () => new Date(), random: (n) => new Uint8Array(randomBytes(n)), env }).close();
  await openSqliteStoreInDir(dir).close();
  const strays = [join(dir, `.events.db.${DEAD_PID}.0123456789ab.tmp`), ...(besideKek ? [join(kekFolder, `.${OUTSIDE_KEK}.${DEAD_PID}.0123456789ab.tmp`)] : [])];
  const anHourAgo = Date.now() / 1000 - 3600;
  for (const stray of strays) {
    writeFileSync(stray, 'a whole KEK, say\n', { mode: 0o600 });
    utimesSync(stray, anHourAgo, anHourAgo);
  }
  return { dir, kekFolder, kek, env };
};

/** Every entry under `root`: its owner, mode and a digest of its bytes, to show a refusal changed nothing. */
export const treeSnapshot = (root: string): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const name of readdirSync(root, { recursive: true, encoding: 'utf8' }).sort()) {
    const path = join(root, name);
    const stat = statSync(path);
    const digest = stat.isDirectory() ? 'dir' : createHash('sha256').update(readFileSync(path)).digest('hex');
    out[relative(root, path)] = `${stat.uid} ${(stat.mode & 0o777).toString(8)} ${digest}`;
  }
  return out;
};
