import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { openSqliteStoreInDir } from '../../adapters/driven/store/index.ts';
import { openTransparencyInDir, openTransparencyLogInDir } from '../../adapters/driven/transparency/index.ts';
import { appendEvents } from '../transparency-fixtures.ts';
import { runCli } from './cli.ts';

/** A data folder made by `make` whose log signed tree 2: the folder, its key file and that checkpoint's note. */
export const auditedFolder = async (make: () => string): Promise<{ data: string; key: string; note: string }> => {
  const data = make();
  const store = openSqliteStoreInDir(data);
  await appendEvents(store, 2);
  await store.close();
  openTransparencyInDir(data).log.close();
  // An export signs the log's checkpoint of what it holds.
  expect((await runCli(['export', 'credential-meter-1', '--out', join(make(), 'bundle.json'), '--data', data])).code).toBe(0);
  const log = openTransparencyLogInDir(data);
  const note = log.checkpointAt(2)!.note;
  log.close();
  return { data, key: join(data, 'transparency.pub'), note };
};

/**
 * Makes a folder with `mode` (chmod: the umask does not narrow it) named `name` in `parent`, by default a new
 * temporary folder from `make`.
 */
export const foldersWithMode =
  (make: () => string) =>
  (mode: number, parent = make(), name = 'gw'): string => {
    const made = join(parent, name);
    mkdirSync(made);
    chmodSync(made, mode);
    return made;
  };

/**
 * A file `name` holding `content`, with `mode`, in a folder `folderName` made with `folderMode` in a new temporary
 * folder from `make` (chmod both: the umask does not narrow them): where an auditor keeps a key or a checkpoint.
 */
export const fileWithModes = (
  make: () => string,
  place: { readonly folder: string; readonly file: string },
  content: string | Uint8Array,
  folderMode: number,
  mode: number,
): string => {
  const folder = foldersWithMode(make)(folderMode, make(), place.folder);
  const file = join(folder, place.file);
  writeFileSync(file, content);
  chmodSync(file, mode);
  return file;
};
