import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { z } from 'zod';
import { constantTimeEqual, toHex } from '../../domain/crypto/index.ts';
import { validationError } from '../../domain/errors.ts';
import { eventLeafHash } from '../../domain/transparency/leaf.ts';
import { openCheckpoint } from '../../domain/transparency/verify-result.ts';
import type { Engine } from '../engine/index.ts';
import { writeFileAtomic } from '../driven/files/index.ts';
import { refuseNewerFileVersion } from '../driven/files/newer-file-version.ts';
import { readOnlyDatabase } from '../driven/files/read-only-database.ts';
import { parseStoredRow } from '../driven/store/sqlite/rows.ts';
import { PUBLIC_KEY_FILE, TRANSPARENCY_DB_FILE } from '../driven/transparency/index.ts';
import { readTrustedJsonFile, readTrustedTextFile } from './bounded-files.ts';
import { outcomesNotedBy } from './engine-outcomes-noted.ts';

/*
 * Review 264 #3: another fleet's events.db restored by mistake into a data folder was served, every other file of the
 * folder then held to a log that is not theirs: the read models rebuilt "of another log", the transparency log
 * stopped, the pseudonym key found "of another folder" (naming keys.db, the file that did belong). Every log begins
 * with its own first event, and a backup of the same log, however old, begins with the same one (positions and ids are
 * never given out twice): so the folder remembers it, once its log has one, in `first-event.json`, and a start on an
 * events.db that begins with another is refused before anything is written. Its leaf hash (eventLeafHash, the whole
 * envelope, as the transparency log compares a leaf with the event the store holds at its position) and not its id
 * alone: ids derive from command ids, and two fleets given the same first command would share it.
 */

/** The file, in the data folder, that remembers the first event of the folder's log. */
export const FIRST_EVENT_FILE = 'first-event.json';

const VERSION = 1;
const MAX_BYTES = 4 * 1024;

const FirstEventFile = z
  .object({
    version: z.literal(VERSION),
    position: z.string().regex(/^\d{1,20}$/),
    eventId: z.string().min(1).max(256),
    leafHash: z.string().regex(/^[0-9a-f]{64}$/),
  })
  .strict();

/** The first event of a log, as the folder remembers it. */
export interface FirstEvent {
  readonly position: bigint;
  readonly eventId: string;
  /** Hex of its eventLeafHash. */
  readonly leafHash: string;
}

const refusedFile = (path: string, message: string) =>
  validationError([{ path, rule: 'first_event_file', message }], 'data folder');

/** What `first-event.json` of `dataDir` remembers; undefined when there is none (a folder whose log has no event yet, or from before review 264). */
export const rememberedFirstEvent = (dataDir: string): FirstEvent | undefined => {
  const path = join(dataDir, FIRST_EVENT_FILE);
  if (!existsSync(path)) return undefined;
  const read = readTrustedJsonFile(path, MAX_BYTES);
  const remedy = "put back the folder's own from its backup (it is the same file whatever the backup's age)";
  if (!read.ok) throw refusedFile(path, `${read.message}: ${remedy}`);
  refuseNewerFileVersion(read.value, path, 'first event', VERSION);
  const parsed = FirstEventFile.safeParse(read.value);
  if (!parsed.success) throw refusedFile(path, `is not the first-event file Credence writes (${parsed.error.issues[0]?.message ?? 'malformed'}): ${remedy}`);
  return { position: BigInt(parsed.data.position), eventId: parsed.data.eventId, leafHash: parsed.data.leafHash };
};

const hasEventsTable = (db: Database.Database): boolean =>
  db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'`).get() !== undefined;

/**
 * The first event of the embedded store's file `eventsDb`, read without writing: undefined when there is no file, no
 * events table (a first start killed before it made its store) or no event; `unreadable` for a first row the store's
 * row schema refuses (damage, which `credence verify` and replay name; not this check's to judge).
 */
export const firstEventIn = (eventsDb: string): FirstEvent | 'unreadable' | undefined => {
  if (!existsSync(eventsDb)) return undefined;
  return readOnlyDatabase(eventsDb, (db) => {
    db.defaultSafeIntegers(true);
    if (!hasEventsTable(db)) return undefined;
    const row = db.prepare('SELECT position, stream_id, revision, event_id, type, data, metadata FROM events ORDER BY position LIMIT 1').get();
    if (row === undefined) return undefined;
    const parsed = parseStoredRow(row);
    if (!parsed.ok) return 'unreadable';
    return { position: parsed.event.position, eventId: parsed.event.id, leafHash: toHex(eventLeafHash(parsed.event)) };
  });
};

const sameEvent = (a: FirstEvent, b: FirstEvent): boolean =>
  a.position === b.position && a.eventId === b.eventId && constantTimeEqual(Buffer.from(a.leafHash, 'hex'), Buffer.from(b.leafHash, 'hex'));

/** The remembered first event, as a refusal says it. */
export const sayFirstEvent = (first: FirstEvent): string => `event ${first.eventId} at position ${first.position}`;

const hasTable = (db: Database.Database, name: string): boolean =>
  db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(name) !== undefined;

/** The folder's transparency log as read without writing: the first event it logged, and its latest checkpoint's note. */
interface LoggedFirst {
  readonly first: FirstEvent;
  readonly latestCheckpoint: string | undefined;
}

/** The first leaf of the folder's transparency log, and its latest signed checkpoint, read without writing; undefined with no leaf. */
const firstLoggedEvent = (dataDir: string): LoggedFirst | undefined => {
  const path = join(dataDir, TRANSPARENCY_DB_FILE);
  if (!existsSync(path)) return undefined;
  return readOnlyDatabase(path, (db) => {
    db.defaultSafeIntegers(true);
    if (!hasTable(db, 'leaves')) return undefined;
    const leaf = db.prepare('SELECT position, event_id AS eventId, leaf_hash AS leafHash FROM leaves WHERE leaf_index = 0').get() as
      | { position: bigint; eventId: string; leafHash: Buffer }
      | undefined;
    if (leaf === undefined) return undefined;
    const latest = hasTable(db, 'checkpoints')
      ? (db.prepare('SELECT note FROM checkpoints ORDER BY tree_size DESC LIMIT 1').get() as { note: unknown } | undefined)
      : undefined;
    return {
      first: { position: leaf.position, eventId: leaf.eventId, leafHash: toHex(leaf.leafHash) },
      latestCheckpoint: typeof latest?.note === 'string' ? latest.note : undefined,
    };
  });
};

/** transparency.pub holds one verifier key line (key-file-signer.ts); anything much longer is not one. */
const MAX_PUBLIC_KEY_BYTES = 1024;

/**
 * Whether the log's latest checkpoint `note` verifies under the folder's own log key (review 291 M): another fleet's
 * transparency.db, restored with its events.db from the wrong backup set, begins as that events.db does, and taken as
 * the folder's own it blamed first-event.json, the one file that did belong. As the start holds its signer to the log
 * (log-key-checks.ts, assertSignsLog), but by the public key alone: transparency.pub, which the folder's signer writes
 * beside the log whether its key is in a file or in a Secure Environment (transparency.handle), so none is opened here.
 * No checkpoint, no transparency.pub, or one not this account's own: nothing to tell by.
 */
const signedByTheFoldersLogKey = (dataDir: string, note: string | undefined): boolean => {
  if (note === undefined) return false;
  const path = join(dataDir, PUBLIC_KEY_FILE);
  if (!existsSync(path)) return false;
  const key = readTrustedTextFile(path, MAX_PUBLIC_KEY_BYTES);
  return key.ok && openCheckpoint(note, key.value).ok;
};

const RESTORE_EVENTS_DB = 'README, "Restoring the event store from a backup"';
const RESTORE_WHOLE_FOLDER = 'to serve the other fleet, restore its whole data folder into a folder of its own ("Restoring a whole data folder")';

/**
 * The refusal of an events.db (`eventsDb`) that begins with `found` in a folder whose first-event.json remembers
 * `remembered`, naming the file that does not belong as the folder's transparency log tells (its first leaf is the
 * first event of the log the folder was built from), once its latest checkpoint verifies under the folder's own log
 * key (signedByTheFoldersLogKey): events.db, when the log begins as first-event.json says; first-event.json, copied
 * from another folder, when the log begins as events.db does (review 286 M2: the folder's own events.db, and every
 * backup of it, was refused as another's). With no log to tell (none, no leaf, one not signed by the folder's key, or
 * one that begins with neither), both possibilities are said.
 */
const sayWhichDoesNotBelong = (dataDir: string, eventsDb: string, found: FirstEvent, remembered: FirstEvent): string => {
  const rememberedIn = join(dataDir, FIRST_EVENT_FILE);
  const same = found.eventId === remembered.eventId && found.position === remembered.position ? ' with other content' : '';
  const log = firstLoggedEvent(dataDir);
  const own = log !== undefined && signedByTheFoldersLogKey(dataDir, log.latestCheckpoint);
  const logged = own ? log.first : undefined;
  if (logged !== undefined && sameEvent(logged, remembered)) {
    return (
      `${eventsDb} is another data folder's event store: its log begins with ${sayFirstEvent(found)}${same}, but the log ` +
      `${dataDir} was built from begins with ${sayFirstEvent(remembered)} (${FIRST_EVENT_FILE}, and ${TRANSPARENCY_DB_FILE}'s first ` +
      "leaf), as every backup of it does. events.db is the file that does not belong: the folder's other files (keys.db, " +
      `${TRANSPARENCY_DB_FILE}, readmodels.db, pki/) are its own, and served they would be held to a log that is not theirs. Put back ` +
      `the folder's own events.db (the one moved aside, or a backup of it: ${RESTORE_EVENTS_DB}); ${RESTORE_WHOLE_FOLDER}`
    );
  }
  if (logged !== undefined && sameEvent(logged, found)) {
    // Removed, it is written again at the next start from events.db's first event, which the log's first leaf agrees with (rememberFirstEvent).
    return (
      `${rememberedIn} is the file that does not belong: it remembers a log that begins with ${sayFirstEvent(remembered)}, but the ` +
      `folder's transparency log (${TRANSPARENCY_DB_FILE}) begins with ${sayFirstEvent(found)}, as ${eventsDb} does: events.db is the ` +
      `folder's own, and ${FIRST_EVENT_FILE} was copied from another folder. Remove ${rememberedIn} (the next start writes it again ` +
      "from the folder's own log), or put back the folder's own from a backup of this folder"
    );
  }
  const why =
    log === undefined
      ? `the folder has no transparency log to tell which file does not belong (no ${TRANSPARENCY_DB_FILE}, or one that has logged no event)`
      : logged === undefined
        ? `the folder's transparency log (${TRANSPARENCY_DB_FILE}, beginning with ${sayFirstEvent(log.first)}) has no checkpoint signed by the ` +
          `folder's own log key (${PUBLIC_KEY_FILE}), so it cannot tell which file does not belong: it may have come with events.db ` +
          "from the same backup of another folder (then put back the folder's own as well)"
        : `the folder's transparency log (${TRANSPARENCY_DB_FILE}) begins with neither (${sayFirstEvent(logged)}), so it cannot tell which file does not belong`;
  return (
    `${eventsDb} begins with ${sayFirstEvent(found)}${same}, but ${rememberedIn} remembers that the log the folder was built from ` +
    `begins with ${sayFirstEvent(remembered)}, as every backup of it does; ${why}. Either events.db is another folder's: put back ` +
    `the folder's own (the one moved aside, or a backup of it: ${RESTORE_EVENTS_DB}); ${RESTORE_WHOLE_FOLDER}. Or ` +
    `${FIRST_EVENT_FILE} was copied from another folder: put back the folder's own from a backup of this folder, or, only once ` +
    `sure events.db is the folder's own (a backup of the folder's events.db begins with the same event), remove ${rememberedIn}: ` +
    'the next start remembers the first event of events.db'
  );
};

/**
 * Refuses, before anything is written, an events.db (`eventsDb`) that begins with another event than the one the data
 * folder `dataDir` remembers its log began with (rule `event_store_of_another_folder`, `setting` its path): another
 * fleet's log, every other file of the folder this one's; or the folder's own, and `first-event.json` another
 * folder's, as its transparency log tells (sayWhichDoesNotBelong). Nothing when the folder remembers none (new, or from
 * before review 264: adopted at the start, `rememberFirstEvent`), or the file holds no event (refused as empty by the caller).
 */
export const refuseEventStoreOfAnotherFolder = (dataDir: string, eventsDb: string, setting: string): void => {
  const remembered = rememberedFirstEvent(dataDir);
  if (remembered === undefined) return;
  const found = firstEventIn(eventsDb);
  if (found === undefined || found === 'unreadable' || sameEvent(found, remembered)) return;
  throw validationError(
    [{ path: setting, rule: 'event_store_of_another_folder', message: sayWhichDoesNotBelong(dataDir, eventsDb, found, remembered) }],
    'data folder',
  );
};

/**
 * Writes `first-event.json` in `dataDir` (0600, atomically) from the first event of `eventsDb`, unless the folder
 * remembers one already or the log has none yet. False while the log has none (to be tried again), true once there is
 * nothing left to do in this process. A folder from before review 264
 * adopts its events.db's first event so, without a refusal, but not one its transparency log's first leaf contradicts:
 * adopted, another fleet's events.db restored into it would be remembered, and the folder's own, put back once the
 * runtime's warnings were read, refused as another's. That one is left to the runtime (the log refuses to go on).
 */
export const rememberFirstEvent = (dataDir: string, eventsDb: string): boolean => {
  const path = join(dataDir, FIRST_EVENT_FILE);
  if (existsSync(path)) return true;
  const first = firstEventIn(eventsDb);
  if (first === undefined || first === 'unreadable') return false;
  const logged = firstLoggedEvent(dataDir)?.first;
  if (logged !== undefined && !sameEvent(logged, first)) return true;
  const file = { version: VERSION, position: first.position.toString(10), eventId: first.eventId, leafHash: first.leafHash };
  writeFileAtomic(path, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  return true;
};

/**
 * The engine whose outcomes have the folder remember its log's first event (`remember`) once one is stored: a folder
 * started on an empty store otherwise remembered none until its next start, and an events.db swapped meanwhile would be
 * adopted. One file check per outcome with events until it is remembered, nothing after. A failed write fails no command (its events
 * stand): the next outcome, or the next start, writes it.
 */
export const firstEventRememberedBy = (engine: Engine, remember: (() => boolean) | undefined): Engine => {
  if (remember === undefined) return engine;
  let done = false;
  return outcomesNotedBy(engine, (outcome) => {
    if (done || outcome.events.length === 0) return;
    try {
      done = remember();
    } catch {
      // Written at the next outcome or start.
    }
  });
};
