import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { atomicWriteTempOf } from '../adapters/driven/files/index.ts';
import { parseStoreConnectionString, storeFolderOfError } from '../adapters/driven/store/index.ts';

/**
 * A write the system refused: a full disk, a file size limit (`ulimit -f`), a quota, a device error, a read-only file
 * system. Not the operator's mistake in what they typed (bad usage, exit 2) but a failure (exit 1, README's exit
 * codes), said in one line naming the file or folder: `error: cannot write b3.json (EFBIG)`.
 */
export class CannotWrite extends Error {
  /** The errno code (`ENOSPC`) or SQLite's (`SQLITE_IOERR_WRITE`). */
  readonly code: string;
  constructor(what: string, code: string, detail?: string) {
    super(`cannot write ${what} (${code}${detail !== undefined ? `: ${detail}` : ''})`);
    this.name = 'CannotWrite';
    this.code = code;
  }
}

/** The errno codes of a write the system refused, whatever was asked of it. */
const REFUSED_WRITES = new Set(['ENOSPC', 'EFBIG', 'EDQUOT', 'EIO', 'EROFS']);

/**
 * The code of `error` when it is a write the system refused: one of REFUSED_WRITES, or SQLite's for the same
 * (`SQLITE_FULL` for a full disk, `SQLITE_IOERR_*` for a file size limit or a device error; SQLite names no file).
 */
export const refusedWriteOf = (error: unknown): { code: string; sqlite?: string } | undefined => {
  if (!(error instanceof Error) || error instanceof CannotWrite) return undefined;
  const code = (error as NodeJS.ErrnoException).code;
  if (typeof code !== 'string') return undefined;
  if (REFUSED_WRITES.has(code)) return { code };
  if (code === 'SQLITE_FULL' || code.startsWith('SQLITE_IOERR')) return { code, sqlite: error.message };
  return undefined;
};

/**
 * `run`, with a write the system refused said as CannotWrite naming `what` (a data folder: the one file SQLite or a
 * deeper layer wrote is not known here). Every other error as it was.
 */
export const namingRefusedWrites = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
  try {
    return await run();
  } catch (error) {
    const refused = refusedWriteOf(error);
    if (refused === undefined) throw error;
    throw new CannotWrite(what, refused.code, refused.sqlite);
  }
};

/** The places a service's start writes: its data folder, and those of its settings that are outside it. */
export interface WritePlaces {
  readonly data: string;
  /** The store's connection string: `sqlite:<folder>` elsewhere is a folder of its own. */
  readonly store?: string | undefined;
  readonly checkpointWitness?: string | undefined;
  /** CREDENCE_KEK_FILE: a KEK file kept outside the data folder, made on first use. */
  readonly kekFile?: string | undefined;
}

interface Place {
  readonly what: string;
  readonly path: string;
  /** Files SQLite writes (SQLITE_FULL names none); folders, or files written through the file system. */
  readonly sqlite: boolean;
  readonly kind: 'folder' | 'file';
}

const isWithin = (folder: string, path: string): boolean => path === folder || path.startsWith(folder.endsWith(sep) ? folder : `${folder}${sep}`);

const placesOf = (places: WritePlaces): Place[] => {
  const data = resolve(places.data);
  const found: Place[] = [{ what: `the data folder ${places.data}`, path: data, sqlite: true, kind: 'folder' }];
  let store: string | undefined;
  try {
    const location = places.store !== undefined ? parseStoreConnectionString(places.store) : undefined;
    if (location?.kind === 'sqlite') store = location.dir;
  } catch {
    // A setting the start refused: it wrote nothing there.
  }
  if (store !== undefined && resolve(store) !== data) found.push({ what: `the store folder ${store}`, path: resolve(store), sqlite: true, kind: 'folder' });
  if (places.checkpointWitness !== undefined) found.push({ what: `the checkpoint witness ${places.checkpointWitness}`, path: resolve(places.checkpointWitness), sqlite: false, kind: 'file' });
  if (places.kekFile !== undefined) found.push({ what: `the KEK file ${places.kekFile} (env CREDENCE_KEK_FILE)`, path: resolve(places.kekFile), sqlite: false, kind: 'file' });
  return found;
};

/** `a`, `a or b`, `a, b or c`. */
const oneOf = (whats: readonly string[]): string => (whats.length < 2 ? (whats[0] ?? '') : `${whats.slice(0, -1).join(', ')} or ${whats.at(-1)!}`);

/**
 * Where a refused write was, in words: the store folder that marked it (adapters/driven/store markingStoreFolder);
 * the place its path is in (a file, the temp file it is written through, a folder on the way to it, else the
 * innermost folder holding it); else every place that kind of write may have been (SQLite: its folders).
 */
const placeOfRefusedWrite = (error: unknown, places: WritePlaces): string => {
  const known = placesOf(places);
  const marked = storeFolderOfError(error);
  if (marked !== undefined) return known.find((place) => place.kind === 'folder' && place.path === resolve(marked))?.what ?? `the store folder ${marked}`;
  const path = (error as NodeJS.ErrnoException).path;
  if (typeof path === 'string' && path !== '') {
    const at = resolve(path);
    const file = known.find(
      (place) =>
        place.kind === 'file' &&
        (at === place.path || (dirname(at) === dirname(place.path) && atomicWriteTempOf(basename(at))?.target === basename(place.path)) || isWithin(at, dirname(place.path))),
    );
    if (file !== undefined) return file.what;
    const folder = known.filter((place) => place.kind === 'folder' && isWithin(place.path, at)).sort((a, b) => b.path.length - a.path.length)[0];
    if (folder !== undefined) return folder.what;
    // Outside every place a setting names: the file itself (the one its temp file is written for).
    const temp = atomicWriteTempOf(basename(at));
    return temp !== undefined ? join(dirname(path), temp.target) : path;
  }
  const sqlite = refusedWriteOf(error)?.sqlite !== undefined;
  return oneOf(known.filter((place) => !sqlite || place.sqlite).map((place) => place.what));
};

/**
 * `run` (a service's start, `serve` or `start`), with a write the system refused said as CannotWrite naming where it
 * was, in one line (review 377 item 1: a store kept in another folder on a full disk was said as the data folder, on
 * a disk with space). Every other error as it was.
 */
export const namingRefusedWritesIn = async <T>(places: WritePlaces, run: () => Promise<T>): Promise<T> => {
  try {
    return await run();
  } catch (error) {
    const refused = refusedWriteOf(error);
    if (refused === undefined) throw error;
    throw new CannotWrite(placeOfRefusedWrite(error, places), refused.code, refused.sqlite);
  }
};

/**
 * The places a service's start on `config` writes: its data folder, its store's folder, its checkpoint witness, and
 * the KEK file CREDENCE_KEK_FILE names when it is still to be made (the service reads this process's environment; an
 * existing KEK is only read).
 */
export const writePlacesOfStart = (
  config: { readonly data: string; readonly store?: string | undefined; readonly checkpointWitness?: string | undefined },
  env: Readonly<Record<string, string | undefined>> = process.env,
): WritePlaces => {
  const kekFile = env['CREDENCE_KEK_FILE'] || undefined;
  return { data: config.data, store: config.store, checkpointWitness: config.checkpointWitness, kekFile: kekFile !== undefined && !existsSync(kekFile) ? kekFile : undefined };
};
