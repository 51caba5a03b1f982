import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import type { EventStore, KeyHandle, OwnedSecureEnvironment, ReadAllOptions } from '../../domain/ports/index.ts';
import { isKeyNotFound, secureEnvironmentUnavailable, type CredenceError } from '../../domain/errors.ts';
import { decodeStored } from '../../domain/stored.ts';
import { PseudonymDeriver, pseudonymsListed, secureEnvironmentPseudonymKey, type PseudonymKey } from '../../projections/pseudonyms/index.ts';
import { readOnlyDatabase } from '../driven/files/read-only-database.ts';
import { KEY_REGISTRY_DB_FILE } from '../driven/key-registry/index.ts';
import { READ_MODELS_DB_FILE, type ReadModelDb } from '../driven/readmodels/index.ts';
import { EVENTS_DB_FILE, parseStoreConnectionString } from '../driven/store/index.ts';
import { discardNewKey, type KeyRegistry } from '../protocols/procedures/index.ts';

/**
 * The pseudonym PRF key of the data folder: found in keys.db, or made in the Secure Environment on first use and
 * registered there, and never made while the log holds pseudonyms (review 208, SER-011, SER-025).
 *
 * Why refused rather than made: every pseudonym is the key's derivation, and only the directory of rotations the log
 * records resolves one to its node. A keys.db restored from a backup older than the key, or deleted, gave the folder a
 * new key at its next start, silently: the public stream named every node by values no rotation recorded, and an
 * auditor resolving what integrators saw got 404. The same for a keys.db, or a PKCS#11 token, of another folder: its
 * key derives none of the log's pseudonyms.
 */

// Review 313: the KEK is named too. Without it the Secure Environment's files of the backup open under no KEK the folder has.
const REMEDY =
  "restore the data folder's own keys.db, the one that holds the key, with the Secure Environment it belongs with " +
  "(the embedded one's secure-environment.sqlite and secure-environment.wrapping-keys of the same backup, and its KEK: " +
  'secure-environment.kek, or the file CREDENCE_KEK_FILE names, of that backup too; a PKCS#11 token: ' +
  "the folder's own, CREDENCE_SECURE_ENVIRONMENT or the --config file, docs/hsm.md; README.md, \"Restoring a whole data folder\"). " +
  'No new key is made in its place: every pseudonym is derived from it, and another key would change every pseudonym ' +
  'given out, to values no rotation recorded and no auditor could resolve';

/** keys.db records no pseudonym PRF key while the log holds pseudonyms: a keys.db deleted, or older than the key. */
export const pseudonymKeyNotRecorded = (): CredenceError =>
  secureEnvironmentUnavailable(
    'pseudonym_prf_key_not_recorded',
    'keys.db records no pseudonym PRF key (stream infrastructure, purpose pseudonym-prf) while the event log holds ' +
      'pseudonyms derived with one: keys.db was deleted, or put back from a backup older than the key. ' + REMEDY,
  );

/** The key keys.db records derives none of the log's pseudonyms: keys.db, or the token, of another data folder. */
export const pseudonymKeyOfAnotherFolder = (handle: KeyHandle): CredenceError =>
  secureEnvironmentUnavailable(
    'pseudonym_prf_key_of_another_folder',
    `the pseudonym PRF key ${handle}, recorded in keys.db (stream infrastructure, purpose pseudonym-prf), does not derive ` +
      'the pseudonyms the event log holds: keys.db, or the Secure Environment in use, is another data folder\'s. ' + REMEDY,
  );

/**
 * The pseudonym PRF key keys.db records and the Secure Environment does not hold (deleted from the token behind
 * Credence's back, or a keys.db restored without the Secure Environment files it belongs with). A
 * `secure_environment_unavailable` (a 503 while serving) naming the key, its record and the remedy, where it was a bare
 * `not_found` of its handle. No new key is made in its place, nor offered: every pseudonym is derived from it, and
 * another key would change every one given out (observers following a node would lose it; SER-011).
 */
export const pseudonymKeyMissing = (handle: KeyHandle): CredenceError =>
  secureEnvironmentUnavailable(
    'pseudonym_prf_key_missing',
    `the pseudonym PRF key ${handle}, recorded in keys.db (stream infrastructure, purpose pseudonym-prf), is not in the Secure Environment in use. ` +
      "With a PKCS#11 token (docs/hsm.md): check that it is the data folder's own (CREDENCE_SECURE_ENVIRONMENT, or the --config file); " +
      'if the key was deleted there, restore the token from a backup that holds it. With the embedded Secure Environment: restore the ' +
      'Secure Environment files that belong with this keys.db. No new key is made in its place: every pseudonym is derived from it, ' +
      'and another key would change every pseudonym given out',
  );

/** The code of the warning `keptInside` says (process.emitWarning): one an operator's tooling can filter on. */
export const PSEUDONYM_KEY_EXTRACTABLE = 'CREDENCE_PSEUDONYM_KEY_EXTRACTABLE';

/** No command replaces the key (docs/service.md, KEK rotation step 3): what to do is to treat pseudonyms as resolvable. */
const EXPOSED =
  'anyone who held the user PIN meanwhile could wrap it out of the token (C_WrapKey under a key of their own) and resolve every pseudonym ' +
  'to its node offline, so copies may exist. No command replaces the pseudonym PRF key yet, and a new one would change every pseudonym ' +
  'given out: treat pseudonyms as resolvable by whoever held the PIN, and tell those who rely on them (docs/hsm.md, "What the token lacks, and the x-derivation=host fallback")';

/**
 * Review 230: an earlier version made the pseudonym PRF key CKA_EXTRACTABLE under PKCS#11 `x-derivation=host`, though
 * it is only ever MACed with in the token. Made non-extractable where the token lets it (`keepInside`), and said at
 * warn either way, naming what to do; nothing when it never was, or the Secure Environment has no such keys.
 */
const keptInside = async (se: OwnedSecureEnvironment, handle: KeyHandle): Promise<void> => {
  if (se.keepInside === undefined) return;
  const found = await se.keepInside(handle).catch((error: unknown) => {
    throw isKeyNotFound(error, handle) ? pseudonymKeyMissing(handle) : error;
  });
  if (found.kept === 'already') return;
  const key = `the pseudonym PRF key ${handle} (keys.db, stream infrastructure, purpose pseudonym-prf)`;
  const what =
    found.kept === 'refused'
      ? `${key} is extractable (made so by an earlier version under x-derivation=host) and the token refused to make it non-extractable (${found.returnValue}): `
      : `${key} was extractable (made so by an earlier version under x-derivation=host) and is no longer extractable from now on; until now `;
  process.emitWarning(what + EXPOSED, { code: PSEUDONYM_KEY_EXTRACTABLE });
};

/** The log's first rotation: by the store's index of event types (SQLite), or its server-side filter (EventStoreDB). */
const FIRST_ROTATION: ReadAllOptions = { filter: { eventTypes: ['PseudonymRotated'] }, maxCount: 1 };

/** The log's first rotation, parsed (undefined data when it does not decode: a rotation still), or none. */
const firstRotation = async (store: EventStore): Promise<{ data: { nodeId: string; epoch: number; pseudonym: string } | undefined } | undefined> => {
  for await (const record of store.readAll(FIRST_ROTATION)) {
    const decoded = decodeStored(record);
    return { data: decoded.ok && decoded.value.event.type === 'PseudonymRotated' ? decoded.value.event.data : undefined };
  }
  return undefined;
};

/**
 * At open, before anything derives: keys.db records no pseudonym PRF key while the log (read synchronously where the
 * store is in-process) or, for a store over the network, the pseudonym directory holds pseudonyms. Refused so, nothing
 * written: a start, not the first derivation, says it. A log over the network with the directory empty too (both put
 * back) is found at the key's first use instead (`registeredPseudonymKey`).
 */
export const refuseNewPseudonymKeyForPseudonymsGivenOut = (store: EventStore, readModels: ReadModelDb, registry: KeyRegistry): void => {
  if (registry.live('infrastructure', 'pseudonym-prf').length > 0) return;
  const given =
    store.readAllPagesSync !== undefined
      ? [...store.readAllPagesSync(FIRST_ROTATION)].some((page) => page.length > 0)
      : pseudonymsListed(readModels);
  if (given) throw pseudonymKeyNotRecorded();
};

/** Whether `file` of `dir` (if there) holds a table named `table`; `read` runs on it, read only, when it does. */
const readTable = <T>(dir: string, file: string, table: string, read: (db: Database.Database) => T): { readonly file: 'absent' | 'no table' } | { readonly value: T } => {
  const path = join(dir, file);
  if (!existsSync(path)) return { file: 'absent' };
  return readOnlyDatabase(path, (db) => {
    const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).pluck().all() as string[];
    return tables.includes(table) ? { value: read(db) } : { file: 'no table' };
  });
};

const KEY_BINDINGS = 'se_key_handles';
const KEY_FAILURES = 'se_key_destroy_failures';

/**
 * Whether the folder's keys.db, or the registry an earlier version kept in readmodels.db (moved into keys.db at the
 * open), binds a pseudonym PRF key the registry would hand out (`live`: not destroyed, not owed to the shredder);
 * undefined when it cannot be told here (a keys.db without its bindings table, which the registry's open refuses as
 * damaged itself).
 */
const pseudonymKeyBoundInFolder = (dataDir: string): boolean | undefined => {
  const keys = readTable(dataDir, KEY_REGISTRY_DB_FILE, KEY_BINDINGS, (db) => {
    const owed = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(KEY_FAILURES) !== undefined;
    const query =
      `SELECT 1 FROM ${KEY_BINDINGS} k WHERE stream = 'infrastructure' AND purpose = 'pseudonym-prf' AND destroyed_at IS NULL` +
      (owed ? ` AND NOT EXISTS (SELECT 1 FROM ${KEY_FAILURES} f WHERE f.stream = k.stream AND f.handle = k.handle)` : '') +
      ' LIMIT 1';
    return db.prepare(query).get() !== undefined;
  });
  if ('value' in keys && keys.value) return true;
  // A zero-length keys.db (a first start stopped before its schema) is made as a missing one is; any other lacks a table.
  if ('file' in keys && keys.file === 'no table' && statSync(join(dataDir, KEY_REGISTRY_DB_FILE)).size > 0) return undefined;
  const legacy = readTable(dataDir, READ_MODELS_DB_FILE, KEY_BINDINGS, (db) =>
    db.prepare(`SELECT 1 FROM ${KEY_BINDINGS} WHERE stream = 'infrastructure' AND purpose = 'pseudonym-prf' AND destroyed_at IS NULL LIMIT 1`).get() !== undefined,
  );
  return 'value' in legacy && legacy.value;
};

/**
 * Whether the folder's log holds pseudonyms, read from files only: the embedded store's events.db (the data folder's,
 * or the folder a `sqlite:` store names) holding a PseudonymRotated, else, for a store over the network, the pseudonym
 * directory of readmodels.db, as refuseNewPseudonymKeyForPseudonymsGivenOut reads them once opened.
 */
const pseudonymsGivenOutInFolder = (dataDir: string, store: string | undefined): boolean => {
  const location = store === undefined ? undefined : parseStoreConnectionString(store);
  if (location === undefined || location.kind === 'sqlite') {
    const events = readTable(location?.dir ?? dataDir, EVENTS_DB_FILE, 'events', (db) =>
      db.prepare(`SELECT 1 FROM events WHERE type = 'PseudonymRotated' LIMIT 1`).get() !== undefined,
    );
    return 'value' in events && events.value;
  }
  const directory = readTable(dataDir, READ_MODELS_DB_FILE, 'pseudonym_directory', (db) => pseudonymsListed(db));
  return 'value' in directory && directory.value;
};

/**
 * Review 313: refuseNewPseudonymKeyForPseudonymsGivenOut, read from the data folder's files before anything is opened,
 * made or written: a start runs it before its Secure Environment and log key. An events.db restored alone into a new
 * folder was refused so only after the start had made a KEK, an embedded Secure Environment, a log key with its
 * transparency.handle and transparency.pub, transparency.db, readmodels.db and keys.db there; the KEK then refused the
 * remedy's Secure Environment files, and the handle named a key they do not hold. `store` is the connection string the
 * folder is served with (undefined: its own events.db). What cannot be told from the files (a keys.db without its
 * bindings table, a file that cannot be read) is left to the checks at open, which say it.
 */
export const refuseNewPseudonymKeyForPseudonymsGivenOutInFolder = (dataDir: string, store: string | undefined): void => {
  let given: boolean;
  try {
    if (pseudonymKeyBoundInFolder(dataDir) !== false) return;
    given = pseudonymsGivenOutInFolder(dataDir, store);
  } catch {
    // A damaged or newer file: refused at open, naming it, as before.
    return;
  }
  if (given) throw pseudonymKeyNotRecorded();
};

/**
 * At first use: the key keys.db records must derive the log's first rotation (one store read and one PRF call per
 * process), else it is another folder's, and is kept inside the Secure Environment (`keptInside`); without a recorded
 * key, one is made only while the log holds no rotation, never to leave the Secure Environment.
 * A key the Secure Environment does not hold is `pseudonymKeyMissing`, at its first use after a start as while serving.
 */
const foundOrMade = async (se: OwnedSecureEnvironment, registry: KeyRegistry, store: EventStore, now: () => Date): Promise<KeyHandle> => {
  const [existing] = registry.live('infrastructure', 'pseudonym-prf');
  if (existing !== undefined) {
    const handle = existing as KeyHandle;
    const rotation = (await firstRotation(store))?.data;
    if (rotation !== undefined) {
      const derived = await new PseudonymDeriver(secureEnvironmentPseudonymKey(se, handle, pseudonymKeyMissing), 1).node(rotation.nodeId, rotation.epoch);
      if (derived !== rotation.pseudonym) throw pseudonymKeyOfAnotherFolder(handle);
    }
    await keptInside(se, handle);
    return handle;
  }
  if ((await firstRotation(store)) !== undefined) throw pseudonymKeyNotRecorded();
  // Only ever MACed with, in the Secure Environment: it never leaves it, not even under x-derivation=host (review 230).
  const created = await se.generate('psk256', { hostUse: false });
  try {
    registry.register('infrastructure', created, 'pseudonym-prf');
  } catch (error) {
    throw await discardNewKey(se, registry, { stream: 'infrastructure', handle: created, purpose: 'pseudonym-prf' }, now(), error);
  }
  return created;
};

/**
 * The pseudonym PRF key as the Secure Environment's MAC on the handle `foundOrMade` resolves. One the registry refuses
 * to bind is destroyed (or owed): unbound, the next use would make another (review 53).
 */
export const registeredPseudonymKey = (se: OwnedSecureEnvironment, registry: KeyRegistry, store: EventStore, now: () => Date): PseudonymKey =>
  secureEnvironmentPseudonymKey(se, () => foundOrMade(se, registry, store, now), pseudonymKeyMissing);
