import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { STRAY_AGE_MS } from '../../adapters/driven/files/atomic-write-strays.ts';
import { isWriteLockHeld } from '../../adapters/driven/files/lock-wait.ts';
import { isProcessAlive } from '../../adapters/driven/files/process-alive.ts';
import { preparePrivateDatabaseFile } from '../../adapters/driven/files/private-files.ts';
import { KEY_HANDLE_FILE, LOG_KEY_OWNER, readHandleFile } from '../../adapters/driven/transparency/secure-environment-signer.ts';
import { validationError } from '../../domain/errors.ts';
import type { KeyHandle } from '../../domain/ports/index.ts';

/** A record of the data folder that still names a key: the rule that keeps it, and why (a noun phrase for the key). */
export interface KeyUse {
  readonly rule: string;
  readonly message: string;
  /**
   * The key signs what the folder issues next: destroyed, the folder issues nothing. `rotate_first`: the current API
   * token signing key, which only an operator's rotation retires; `renewed_by_service`: a current OCSP signing key,
   * which the service retires at its signer's next renewal and destroys at the one after; `move_log_first`: the log
   * key the folder's transparency.handle names, which only moving that log aside (a new one starts) retires.
   */
  readonly current?: 'rotate_first' | 'renewed_by_service' | 'move_log_first';
}

/**
 * The records of one data folder that may name an owner's keys, each read once for all of `handles`: the use of
 * each handle one of them names. A record that cannot be read throws.
 */
type KeysInUse = (data: string, handles: readonly KeyHandle[]) => Promise<ReadonlyMap<string, KeyUse>>;

/**
 * The owner the CAs, their OCSP signers and the security procedures share (ca-folder.ts, adapters/http/start.ts):
 * one owner, so every record any of them keeps counts for each of its keys.
 */
const INFRASTRUCTURE_OWNER = 'maf:infrastructure';
/** adapters/http/auth/open-access-control.ts ACCESS_OWNER, named here so `credence log-key` loads none of it. */
const ACCESS_OWNER = 'credence:access';

const KEPT = 'nothing destroyed';

/** What a KeyUse says of its record, less what a refused destroy adds: for `credence key list`, which destroys nothing. */
export const whatNames = (use: KeyUse): string => (use.message.endsWith(`: ${KEPT}`) ? use.message.slice(0, -`: ${KEPT}`.length) : use.message);

/**
 * The records of any of `folders` that name `owner`'s keys `handles`, read as `credence key destroy` reads them
 * before it destroys (a token serves every folder named): each handle with the first record that names it, those
 * none names left out. Each folder's records are read once for all the handles, and only while one is left unnamed
 * (so a record is read exactly when asking of each handle alone would read it). A record that cannot be read throws,
 * so a key is never taken for unnamed when its record is unknown.
 */
export const keyUsesIn = async (folders: readonly string[], owner: string, handles: readonly KeyHandle[]): Promise<ReadonlyMap<string, KeyUse>> => {
  const inUse = KEY_OWNERS[owner];
  if (inUse === undefined) throw new Error(`owner: ${owner} is not an owner whose records are known`);
  const uses = new Map<string, KeyUse>();
  for (const folder of folders) {
    const left = handles.filter((handle) => !uses.has(handle));
    if (left.length === 0) break;
    for (const [handle, use] of await inUse(folder, left)) uses.set(handle, use);
  }
  return uses;
};

/** The first record of any of `folders` that names `owner`'s key `handle` (keyUsesIn): undefined only when none does. */
export const keyUseIn = async (folders: readonly string[], owner: string, handle: KeyHandle): Promise<KeyUse | undefined> =>
  (await keyUsesIn(folders, owner, [handle])).get(handle);

const logKeyUse = (path: string): KeyUse => ({
  rule: 'log_key_in_use',
  message: `the log key ${path} names, which signs the folder's log: ${KEPT}`,
  current: 'move_log_first',
});

/** The key `transparency.handle` names signs the folder's log: destroyed, the log signs nothing; a new key forks it. */
export const logKeyInUse = (data: string, handle: KeyHandle): KeyUse | undefined => {
  const path = join(data, KEY_HANDLE_FILE);
  return existsSync(path) && readHandleFile(path) === handle ? logKeyUse(path) : undefined;
};

/**
 * The handles asked of, each taken by the first record that names it, as asking of each alone would: `name` says
 * whether any is left, so that a caller reads no further record once none is.
 */
const namings = (handles: readonly KeyHandle[]) => {
  const left = new Set<string>(handles);
  const uses = new Map<string, KeyUse>();
  return {
    left: left as ReadonlySet<string>,
    uses: uses as ReadonlyMap<string, KeyUse>,
    name: (handle: string, use: KeyUse): boolean => {
      if (left.delete(handle)) uses.set(handle, use);
      return left.size > 0;
    },
  };
};

/** The CA files' keys, the OCSP signer files' current and retired keys, and every key the key registry still binds. */
const infrastructureKeysInUse: KeysInUse = async (data, handles) => {
  const { left, uses, name } = namings(handles);
  const { boundHandles, refuseKeysDbLostFromAUsedFolder } = await import('../../adapters/driven/key-registry/bound-handles.ts');
  // First, whatever names the keys: a keys.db lost from a used folder is a record that cannot be read (review 378).
  refuseKeysDbLostFromAUsedFolder(data);
  const { caFilePath, caIds, readCaFile } = await import('../../adapters/driven/pki/ca-file.ts');
  for (const id of caIds(data)) {
    const ca = readCaFile(data, id);
    if (ca === undefined || !left.has(ca.keyHandle)) continue;
    const signs = ca.state === 'active' ? 'which signs its certificates, CRLs and OCSP signers' : 'awaiting its certificate (credence ca install)';
    if (!name(ca.keyHandle, { rule: 'ca_key_in_use', message: `the key of CA ${id} (${caFilePath(data, id)}), ${signs}: ${KEPT}` })) return uses;
  }
  const { ocspSignerHandles } = await import('../../adapters/driven/pki/ocsp-signer-handles.ts');
  for (const signer of ocspSignerHandles(data)) {
    if (!left.has(signer.handle)) continue;
    const message =
      signer.state === 'current'
        ? `the OCSP signing key of CA ${signer.caId} (${signer.file}), which signs its OCSP responses: ${KEPT}`
        : `a retired OCSP signing key of CA ${signer.caId} (${signer.file}), which the service destroys at the signer's next renewal: ${KEPT}`;
    if (!name(signer.handle, { rule: 'ocsp_signing_key_in_use', message, ...(signer.state === 'current' ? { current: 'renewed_by_service' as const } : {}) })) return uses;
  }
  for (const [handle, bound] of boundHandles(data, left)) {
    const message = `the key ${bound.file} binds to ${bound.stream} (${bound.purpose}), which the infrastructure uses, or its shredder destroys: ${KEPT}`;
    name(handle, { rule: 'key_registry_key_in_use', message });
  }
  return uses;
};

/*
 * Review 378 #3: a local `token create` or `token rotate-key` (token-target.ts withLocalAccess) generates an API token
 * signing key, then names it in access.db; between the two the key is named by nothing, and `key list` called it
 * unnamed and `key destroy` destroyed it, leaving access.db naming a key no one holds. The folder lock cannot keep them
 * apart: a token command runs beside a running service, which holds it. A write transaction on access.db from the
 * generate to the commit cannot either: the access registry (adapters/driven/access) commits on a connection of its
 * own that nothing outside it reaches, which a lock held on another connection would keep from committing; and held
 * across the generate's await in the service, it would take in other requests' writes. A pending record before the
 * generate would need a table access.db does not have. So each local token command holds a lock of its own while it has
 * access.db open: a file `access-key-making-<pid>-<random>.lock`, a SQLite database it keeps an exclusive transaction
 * open on (the system drops it with the process, however it ends), removed when it is done. `key list` and `key
 * destroy` take each such lock in turn before reading access.db (waiting for the command to end), so a key they see
 * was either named by then or discarded; a key generated after they looked is not among those they list or destroy.
 * A file whose lock is taken at once is a leftover of a command killed (its key, if any, really is named by nothing):
 * the key commands leave it as it is (`key list` writes nothing to the folder; review 379), and the next local token
 * command, which writes the folder anyway, removes it (removeLeftAccessKeyMaking).
 */
const MAKING_FILE = /^access-key-making-(\d+)-[0-9a-f]+\.lock$/;
/** How long `key list` and `key destroy` wait for a token command to end: it makes one key and writes one row. */
const MAKING_WAIT_MS = 15_000;

/**
 * Holds the key-making lock of the local token command about to open `data`'s access.db (which may make and name a
 * signing key) until `release`. `data` must exist.
 */
export const holdAccessKeyMaking = (data: string): { release(): void } => {
  removeLeftAccessKeyMaking(data);
  const file = join(data, `access-key-making-${process.pid}-${randomBytes(8).toString('hex')}.lock`);
  preparePrivateDatabaseFile(file);
  let db: Database.Database | undefined;
  try {
    // A wait: a `key list` or `key destroy` looking holds the file a moment (waitForAccessKeyMaking).
    db = new Database(file, { timeout: 5_000 });
    // An empty file takes no lock (SQLite has no page to lock yet).
    db.exec('CREATE TABLE IF NOT EXISTS access_key_making (held INTEGER)');
    db.exec('BEGIN EXCLUSIVE');
  } catch (error) {
    db?.close();
    rmSync(file, { force: true });
    throw error;
  }
  const held = db;
  return {
    release: () => {
      if (!held.open) return;
      try {
        // Removed before the lock goes: a waiter that opened it takes the lock of a file no longer there, and is done.
        rmSync(file, { force: true });
      } finally {
        held.close();
      }
    },
  };
};

/**
 * Removes the key-making lock files killed token commands left in `data` (review 379): each SQLite file so named whose
 * process is not running here, whose lock is free, and older than STRAY_AGE_MS. The lock alone does not tell a dead
 * holder from one that has made its file and not yet taken it (a moment), nor the pid alone a process of another PID
 * namespace on the same volume; the three together keep every file a command still holds or is about to. A file so
 * named that is no SQLite database is not Credence's to remove: the key commands refuse it naming it
 * (waitForAccessKeyMaking). Nothing here refuses the token command: a file that cannot be removed is left.
 */
const removeLeftAccessKeyMaking = (data: string): void => {
  let names: string[];
  try {
    names = readdirSync(data);
  } catch {
    return;
  }
  const now = Date.now();
  for (const name of names) {
    const pid = MAKING_FILE.exec(name)?.[1];
    if (pid === undefined || Number(pid) === process.pid || isProcessAlive(Number(pid))) continue;
    const file = join(data, name);
    const stat = lstatSync(file, { throwIfNoEntry: false });
    if (stat?.isFile() !== true || now - stat.mtimeMs <= STRAY_AGE_MS) continue;
    let db: Database.Database | undefined;
    try {
      // Empty: killed before its first write (it holds no lock then), and old enough not to be a holder's first moment.
      if (stat.size === 0) {
        rmSync(file, { force: true });
        continue;
      }
      db = new Database(file, { fileMustExist: true, timeout: 0 });
      // Only a file a token command made (its table); anything else so named is left for the key commands to name.
      if (db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'access_key_making'").get() === undefined) continue;
      db.exec('BEGIN IMMEDIATE');
      // Removed while its lock is held, as release does: a key command that opened it meanwhile takes a lock of nothing.
      rmSync(file, { force: true });
    } catch {
      // Held (its command runs), not a database, or not removable: left.
    } finally {
      db?.close();
    }
  }
};

/** SQLite's word for a file that is no database of its own (text, another format), which names no file. */
const isNotADatabase = (error: unknown): boolean => error instanceof Database.SqliteError && error.code === 'SQLITE_NOTADB';

/** Waits for every local token command making a key in `data` to end (holdAccessKeyMaking); refused past MAKING_WAIT_MS. */
const waitForAccessKeyMaking = (data: string): void => {
  let names: string[];
  try {
    names = readdirSync(data).filter((name) => MAKING_FILE.test(name));
  } catch {
    return; // No folder: no command made a key in it.
  }
  for (const name of names) {
    const file = join(data, name);
    let db: Database.Database;
    try {
      db = new Database(file, { fileMustExist: true, timeout: MAKING_WAIT_MS });
    } catch (error) {
      if (!existsSync(file)) continue; // Its command ended meanwhile.
      throw error;
    }
    try {
      db.exec('BEGIN IMMEDIATE');
      db.exec('ROLLBACK');
    } catch (error) {
      // Said for `key list` and `key destroy` alike, both refused before they list or destroy anything.
      if (isNotADatabase(error)) {
        const message =
          `${file} is named as a local credence token command's key-making lock but is not one (${(error as Error).message}): ` +
          `remove it when no credence token command runs on ${data}, then run this again; nothing listed or destroyed [access_key_making_file_not_a_lock]`;
        throw validationError([{ path: 'data', rule: 'access_key_making_file_not_a_lock', message }], 'data folder');
      }
      if (!isWriteLockHeld(error)) throw error;
      const message =
        `a local credence token command is making an API token signing key in ${data} (${name}, held by its process) and did not end within ` +
        `${MAKING_WAIT_MS / 1000} s: its key is named by nothing until it does. Let it end, then run this again; nothing listed or destroyed [access_key_being_made]`;
      throw validationError([{ path: 'data', rule: 'access_key_being_made', message }], 'data folder');
    } finally {
      db.close();
    }
  }
};

/**
 * Every key access.db lists: the current one signs tokens, a retired one verifies those it signed until they end.
 * Read-only (signingKeyHandles): a file an older version wrote is read as it is, never upgraded by a command that
 * only asks. Read once no local token command is making a key (waitForAccessKeyMaking), never before.
 */
const accessKeysInUse: KeysInUse = async (data, handles) => {
  waitForAccessKeyMaking(data);
  const { ACCESS_DB_FILE } = await import('../../adapters/driven/access/index.ts');
  const { signingKeyHandles } = await import('../../adapters/driven/access/signing-key-handles.ts');
  const { uses, name } = namings(handles);
  const path = join(data, ACCESS_DB_FILE);
  for (const key of signingKeyHandles(data)) {
    const message =
      key.retiredAt === undefined
        ? `the API token signing key ${path} names as current, which signs new tokens: ${KEPT}`
        : `a retired API token signing key ${path} names, which verifies the tokens it signed until they end (the next start or local token create, revoke or rotate-key after that destroys it; credence token rotate-key --withdraw-previous revokes them and destroys it now): ${KEPT}`;
    if (!name(key.handle, { rule: 'access_signing_key_in_use', message, ...(key.retiredAt === undefined ? { current: 'rotate_first' as const } : {}) })) break;
  }
  return uses;
};

/** `transparency.handle`, read once whatever the number of handles asked of. */
const logKeysInUse: KeysInUse = async (data, handles) => {
  const path = join(data, KEY_HANDLE_FILE);
  if (!existsSync(path)) return new Map();
  const named = readHandleFile(path);
  return new Map(handles.includes(named) ? [[named, logKeyUse(path)]] : []);
};

/** The owners `credence key destroy` knows, each with the records of the folder that may name one of its keys. */
export const KEY_OWNERS: Readonly<Record<string, KeysInUse>> = {
  [INFRASTRUCTURE_OWNER]: infrastructureKeysInUse,
  [ACCESS_OWNER]: accessKeysInUse,
  [LOG_KEY_OWNER]: logKeysInUse,
};
