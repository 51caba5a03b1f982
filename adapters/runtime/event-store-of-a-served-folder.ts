import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { damagedDatabase, validationError } from '../../domain/errors.ts';
import { isOwnStream } from '../../domain/own-record.ts';
import { isSqliteCorruption } from '../driven/files/damaged-database.ts';
import { readOnlyDatabase } from '../driven/files/read-only-database.ts';
import { KEY_REGISTRY_DB_FILE } from '../driven/key-registry/index.ts';
import { READ_MODELS_DB_FILE } from '../driven/readmodels/index.ts';
import { connectEventStoreDb } from '../driven/store/eventstoredb/client.ts';
import { ownRecordAmongNewest } from '../driven/store/eventstoredb/own-head.ts';
import { EVENTS_DB_FILE, EventStoreDbStore, parseStoreConnectionString } from '../driven/store/index.ts';
import { TRANSPARENCY_DB_FILE } from '../driven/transparency/index.ts';
import { FIRST_EVENT_FILE, refuseEventStoreOfAnotherFolder, rememberedFirstEvent, sayFirstEvent } from './first-event-of-the-folder.ts';

/*
 * Review 84: an events.db missing from a folder that was served (a backup put back under another name) was made
 * afresh, empty, and served as an empty fleet: the read models rebuilt empty, a new log, commands taken, and `npm
 * start` wrote the demo fleet into it. What says a folder held a log of events is what only events make: leaves of
 * its transparency log, and read model checkpoints (a row names an event handled; a reset deletes it). Neither is
 * made before the first start: `token create` makes access.db and the Secure Environment, `ca init` pki/ (so neither
 * is a sign), and a first start on an empty store leaves both empty (keys.db gets the infrastructure's keys then:
 * no sign of events either). What says a start served the folder is keys.db holding keys: a start registers the
 * infrastructure's keys there (the service on its first start, before any event), and only after it has made its event
 * store; nothing run before the first start makes it (`token create`, `ca init`, a KEK or a configuration file put
 * there). So a folder whose log and read models went aside with its events.db is refused too, where it looked new
 * and was served as an empty fleet. A log key left without its log is refused as such (refuseLogKeyWithoutItsLog).
 * A store that holds events, its log and key and read models all gone, is what README's "Restoring the event store
 * from a backup" step 4 starts a new log over: not refused.
 */

const hasTable = (db: Database.Database, table: string): boolean =>
  db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(table) !== undefined;

const hasColumn = (db: Database.Database, table: string, column: string): boolean =>
  (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).some((c) => c.name === column);

/** What `file` of `dir` says of the events it was built from, read without writing; undefined when nothing. */
const signOf = <T>(dir: string, file: string, table: string, read: (db: Database.Database) => T | undefined): T | undefined => {
  const path = join(dir, file);
  if (!existsSync(path)) return undefined;
  return readOnlyDatabase(path, (db) => {
    db.defaultSafeIntegers(true);
    return hasTable(db, table) ? read(db) : undefined;
  });
};

const loggedEvents = (dir: string): string | undefined =>
  signOf(dir, TRANSPARENCY_DB_FILE, 'leaves', (db) => {
    const last = db.prepare('SELECT leaf_index AS leaf, position FROM leaves ORDER BY leaf_index DESC LIMIT 1').get() as
      | { leaf: bigint; position: bigint }
      | undefined;
    // Leaf indexes count from 0.
    return last === undefined ? undefined : `${TRANSPARENCY_DB_FILE} has logged ${last.leaf + 1n} events, up to position ${last.position}`;
  });

const handledEvents = (dir: string): string | undefined =>
  signOf(dir, READ_MODELS_DB_FILE, 'projection_checkpoints', (db) => {
    const { position } = db.prepare('SELECT max(position) AS position FROM projection_checkpoints').get() as { position: bigint | null };
    return position === null ? undefined : `${READ_MODELS_DB_FILE} holds read models built from them, checkpoints up to position ${position}`;
  });

/** The first event of its log the folder remembers (first-event-of-the-folder.ts), kept when the log and read models go. */
const rememberedEvents = (dir: string): string | undefined => {
  const first = rememberedFirstEvent(dir);
  return first === undefined ? undefined : `${FIRST_EVENT_FILE} remembers that its log began with ${sayFirstEvent(first)}`;
};

/** What the folder's log, read models and first-event.json say of the events it was built from (none: a folder no event built). */
const signsOfEvents = (dataDir: string): string[] =>
  [loggedEvents(dataDir), handledEvents(dataDir), rememberedEvents(dataDir)].filter((s): s is string => s !== undefined);

const registeredKeys = (dir: string): string | undefined =>
  signOf(dir, KEY_REGISTRY_DB_FILE, 'se_key_handles', (db) => {
    const { keys } = db.prepare('SELECT count(*) AS keys FROM se_key_handles').get() as { keys: bigint };
    return keys === 0n ? undefined : `${KEY_REGISTRY_DB_FILE} holds ${keys} keys its starts registered, each start after making its event store`;
  });

/** The folder of the SQLite store `store` names (undefined: the data folder's own); undefined for any other store. */
const sqliteFolderOf = (dataDir: string, store: string | undefined): string | undefined => {
  if (store === undefined) return dataDir;
  const location = parseStoreConnectionString(store);
  return location.kind === 'sqlite' ? location.dir : undefined;
};

/**
 * Refuses, before anything is written, to make a new `events.db` for the data folder `dataDir` when the folder was
 * built from a log of events (its transparency log's leaves, its read models' checkpoints) or served (keys its starts
 * registered): that store is missing, not new. An events.db there that holds no event, in a folder built from a log of
 * events, is refused too (`event_store_empty`), as is one whose log begins with another event than the folder
 * remembers (`event_store_of_another_folder`: another fleet's). `store` is the connection string the folder is served with (undefined: its own events.db; only a SQLite store
 * is checked, an external one being no file to miss); `setting` names it in the refusal.
 */
export const refuseNewEventStoreForAServedFolder = (dataDir: string, store: string | undefined, setting: string): void => {
  const folder = sqliteFolderOf(dataDir, store);
  if (folder === undefined) return;
  if (existsSync(join(folder, EVENTS_DB_FILE))) {
    refuseDamagedEventsDbUnderANewLog(dataDir, folder);
    refuseEmptyEventsDbOfAFolderBuiltFromEvents(dataDir, folder, setting);
    // Review 264 #3: another fleet's events.db restored into the folder, every other file of it this folder's.
    refuseEventStoreOfAnotherFolder(dataDir, join(folder, EVENTS_DB_FILE), setting);
    return;
  }
  const events = signsOfEvents(dataDir);
  const keys = registeredKeys(dataDir);
  if (events.length === 0 && keys === undefined) return;
  const path = join(folder, EVENTS_DB_FILE);
  const past = events.length > 0 ? `was built from a log of events (${[...events, ...(keys === undefined ? [] : [keys])].join('; ')})` : `was served (${keys})`;
  throw validationError(
    [
      {
        path: setting,
        rule: 'event_store_missing',
        message:
          `${path} is missing, but ${dataDir} ${past}: a new event store would be served as an empty fleet. Put the event ` +
          `store in place as ${path} (a backup: README, "Restoring the event store from a backup", step 2; the folder's ` +
          `whole backup, its transparency log and readmodels.db too: "Restoring a whole data folder"), or serve the ` +
          'folder with the store it was served with',
      },
    ],
    'data folder',
  );
};

/** Whether the embedded store in `folder` holds an event, read without writing. */
const holdsAnEvent = (folder: string): boolean =>
  signOf(folder, EVENTS_DB_FILE, 'events', (db) => (db.prepare('SELECT 1 FROM events LIMIT 1').get() === undefined ? undefined : 'an event')) !==
  undefined;

/** How many of SQLite's findings a refusal repeats, and how much of their text: a damaged file may have thousands. */
const FINDINGS_SAID = 10;
const FINDINGS_SAID_CHARS = 600;

/** What `PRAGMA integrity_check` says of `db`: 'ok', or its first findings in one bounded line. */
const integrityOf = (db: Database.Database): string => {
  const findings = (db.pragma(`integrity_check(${FINDINGS_SAID})`, { simple: false }) as Record<string, unknown>[]).map((row) =>
    String(Object.values(row)[0]).replace(/\s*\n\s*/g, '; '),
  );
  const said = findings.join('; ');
  if (said === 'ok') return said;
  return said.length > FINDINGS_SAID_CHARS ? `${said.slice(0, FINDINGS_SAID_CHARS)}…` : said;
};

/** The events.db this process found whole last (its path, inode, size and time), so a start's second look is free. */
let foundWhole: string | undefined;

const identityOf = (path: string): string => {
  const s = statSync(path, { bigint: true });
  return `${path}:${s.ino}:${s.size}:${s.mtimeNs}`;
};

/**
 * Review 350 #1: an events.db that holds events under a transparency log that has logged none, so the start begins a
 * new log over it: what README's "Restoring the event store from a backup" does, steps 2 and 4. A damaged backup put
 * in place (cut short, a byte flipped, its header edited) was read as far as it went: the read models rebuilt from it
 * and the new log, under a new key, signed its history, which `credence verify --data` then found matching. SQLite's
 * full check is run on it first, read-only: its quick check compares no index with its table, and misses an event row
 * whose event_id no longer matches the UNIQUE index. A file it finds damaged is refused, naming it and the first
 * findings, before anything is written (no read model rebuilt, no log or key made). Its cost, a read of the whole file,
 * is paid only there: a folder whose log has logged events never pays it (the log holds the store to its leaves).
 */
const refuseDamagedEventsDbUnderANewLog = (dataDir: string, folder: string): void => {
  if (loggedEvents(dataDir) !== undefined) return;
  const path = join(folder, EVENTS_DB_FILE);
  const identity = identityOf(path);
  if (foundWhole === identity) return;
  const said = readOnlyDatabase(path, (db) => {
    try {
      return hasTable(db, 'events') && db.prepare('SELECT 1 FROM events LIMIT 1').get() !== undefined ? integrityOf(db) : 'ok';
    } catch (error) {
      // A file cut short can stop the check itself: what SQLite said then is the finding.
      if (isSqliteCorruption(error)) return `stopped, ${error.code}: ${error.message}`;
      throw error;
    }
  });
  if (said === 'ok') {
    foundWhole = identity;
    return;
  }
  throw damagedDatabase(
    path,
    EVENTS_DB_FILE,
    `SQLite's integrity check: ${said}`,
    'a new transparency log would sign what is left of its history. Put back the events.db moved aside, or another backup, ' +
      `checked first with \`sqlite3 FILE 'PRAGMA integrity_check'\` (it must print ok) (README, "Restoring the event store from a backup", step 2)`,
  );
};

/**
 * An events.db that is there and holds no event, in a folder built from a log of events (its log's leaves, its read
 * models' checkpoints): an empty store put in place of the one it was built from (a backup not restored into it, or a
 * store made afresh by hand). Served, the read models were reset and the log stopped (review 84, left then); refused as
 * the EventStoreDB store that holds no event is, below. Keys its starts registered are no sign here: a first start on
 * an empty store registers them before any event.
 */
const refuseEmptyEventsDbOfAFolderBuiltFromEvents = (dataDir: string, folder: string, setting: string): void => {
  const signs = signsOfEvents(dataDir);
  if (signs.length === 0 || holdsAnEvent(folder)) return;
  const path = join(folder, EVENTS_DB_FILE);
  throw validationError(
    [
      {
        path: setting,
        rule: 'event_store_empty',
        message:
          `${path} holds no event, but ${dataDir} was built from a log of events (${signs.join('; ')}): served, its read ` +
          'models would be rebuilt empty and an empty fleet served. Put the event store it was built from in place as ' +
          `${path} (a backup: README, "Restoring the event store from a backup", step 2), or serve the folder with the ` +
          'store it was served with; to serve a new fleet, use a new data folder',
      },
    ],
    'data folder',
  );
};

/**
 * Where `setting` came from, as a refusal says it: the source when the caller knows it (`flag --store`, `env
 * CREDENCE_STORE`, `file F: store`), else every place the store is set.
 */
const sayStoreSetting = (setting: string): string =>
  setting === 'store' ? "the store setting (--store, env CREDENCE_STORE or the configuration file's store)" : setting;

/**
 * What to do, for a folder whose log is its embedded store's (review 278 #3): its events.db holding events, or
 * first-event.json, which only the embedded store's first event writes. No server holds that log to point at.
 */
const embeddedLogRemedy = (dataDir: string, setting: string): string | undefined => {
  const ownEvents = holdsAnEvent(dataDir);
  if (!ownEvents && rememberedFirstEvent(dataDir) === undefined) return undefined;
  const where = ownEvents
    ? `${join(dataDir, EVENTS_DB_FILE)} holds this folder's log (it was served on its embedded store)`
    : `this folder's log is an embedded store's (${FIRST_EVENT_FILE} remembers its first event: an events.db, in ${dataDir} or a sqlite: store's folder)`;
  return (
    `${where}: unset ${sayStoreSetting(setting)} to keep serving it there. Credence does not move an embedded log to ` +
    'EventStoreDB; to serve a fleet on this store, use a new data folder'
  );
};

/** An event of the folder's log at its position there, as a file of the folder holds it. */
interface HeldEvent {
  readonly position: bigint;
  readonly id: string;
  /** Which event of the log it is, as the refusal says it. */
  readonly which: string;
}

/**
 * The first (`ASC`) or newest (`DESC`) leaf of the transparency log that is a record of Credence's: the log logs every
 * record of the store, other applications' too on a shared cluster, and theirs leave it once scavenged. A leaf without
 * a stream (logged before the stream index) is taken as Credence's, as the log itself takes it (isOwnLeaf).
 */
const ownLeaf = (dir: string, order: 'ASC' | 'DESC', which: string): HeldEvent | undefined =>
  signOf(dir, TRANSPARENCY_DB_FILE, 'leaves', (db) => {
    const stream = hasColumn(db, 'leaves', 'stream_id') ? 'stream_id' : 'NULL';
    // Walked in SQLite, past other applications' leaves: the folder's own file, not the store.
    const leaves = db.prepare(`SELECT position, event_id AS id, ${stream} AS stream FROM leaves ORDER BY leaf_index ${order}`).iterate() as
      IterableIterator<{ position: bigint; id: string; stream: string | null }>;
    for (const leaf of leaves) if (leaf.stream === null || isOwnStream(leaf.stream)) return { position: leaf.position, id: leaf.id, which };
    return undefined;
  });

/**
 * The newest read model checkpoint on an event of Credence's (its id and `occurredAt` kept): one of an earlier version
 * may sit on another application's record, or keep no id.
 */
const newestCheckpointedEvent = (dir: string): HeldEvent | undefined =>
  signOf(dir, READ_MODELS_DB_FILE, 'projection_checkpoints', (db) => {
    if (!hasColumn(db, 'projection_checkpoints', 'event_id')) return undefined;
    const newest = db
      .prepare(
        `SELECT position, event_id AS id FROM projection_checkpoints WHERE event_id IS NOT NULL AND occurred_at != '' ORDER BY position DESC LIMIT 1`,
      )
      .get() as { position: bigint; id: string } | undefined;
    return newest === undefined ? undefined : { ...newest, which: 'the newest event its read models handled' };
  });

/**
 * The events of its log the folder holds at their positions: its newest logged leaf of Credence's (else its newest
 * read model checkpoint), and its first, which a store restored from an older backup of the log holds too.
 */
const heldEvents = (dataDir: string): HeldEvent[] => {
  const newest = ownLeaf(dataDir, 'DESC', 'the newest event it logged') ?? newestCheckpointedEvent(dataDir);
  const first = ownLeaf(dataDir, 'ASC', 'the first');
  return [newest, first].filter((e, i, all): e is HeldEvent => e !== undefined && (i === 0 || e.position !== all[0]?.position));
};

/**
 * How many of the store's newest records are looked at for one of Credence's when the store holds none of the events
 * the folder holds: another log's (a restore older than the folder's first leaf, another fleet's) within it is left
 * to the start's own check, which rebuilds the read models and refuses commands.
 */
const OWN_RECORD_SCAN = 256;

/**
 * Refuses, before the folder is locked or anything is written, to serve the data folder `dataDir` on the EventStoreDB
 * store `store` names when that store holds none of the folder's log and the folder was built from a log of events
 * (its transparency log's leaves, its read models' checkpoints): the setting points at another server (a new one, one
 * not restored, a cluster holding only other applications' records, another fleet's), and served, the read models
 * would be rebuilt from what that store holds, a log moved aside started again over it (the embedded store's
 * counterpart: a missing events.db, above). What says the folder's log is there is a bounded read (review 280 #1): the
 * event the folder logged last (else the newest its read models handled), or its first logged, at its position; else a
 * record of Credence's among the store's newest OWN_RECORD_SCAN records (never the head of $all, which counts other
 * applications' records: review 278 #2). A scan of $all back to Credence's newest record would read every record
 * other applications wrote since, before the API listens. Any other store is let through (the embedded one by
 * refuseNewEventStoreForAServedFolder). The store is asked only when the folder holds such a sign, and let go of; one
 * out of reach fails here as the start would. `setting` names it in the refusal, which never repeats the connection
 * string (it may carry credentials).
 */
export const refuseEmptyEventStoreForAServedFolder = async (dataDir: string, store: string | undefined, setting: string): Promise<void> => {
  if (store === undefined) return;
  const location = parseStoreConnectionString(store);
  if (location.kind !== 'eventstoredb') return;
  const signs = signsOfEvents(dataDir);
  if (signs.length === 0) return;
  const held = heldEvents(dataDir);
  const driver = connectEventStoreDb(location.connectionString);
  const opened = new EventStoreDbStore(driver);
  try {
    for (const { position, id } of held) if ((await opened.recordAt(position))?.id === id.toLowerCase()) return;
    if ((await ownRecordAmongNewest(driver, OWN_RECORD_SCAN)) !== undefined) return;
  } finally {
    await opened.close();
  }
  const remedy =
    embeddedLogRemedy(dataDir, setting) ??
    'Point it at the server that holds those events, or restore them there (README, "Restoring the event store from a ' +
      'backup"); to serve a new fleet on this store, use a new data folder';
  const scanned = `record of Credence's among its newest ${OWN_RECORD_SCAN} records`;
  const none =
    held.length === 0
      ? `no ${scanned}`
      : `no record of this folder's log (${held.map((e) => `${e.which} at position ${e.position}`).join(', ')}), nor any ${scanned}`;
  throw validationError(
    [
      {
        path: setting,
        rule: 'event_store_empty',
        message:
          `names an event store that holds ${none}, but ${dataDir} was built from a log of events (${signs.join('; ')}): ` +
          "served, its read models would be rebuilt from what that store holds (no fleet, or another fleet's records) and " +
          `served as this folder's fleet. ${remedy}`,
      },
    ],
    'data folder',
  );
};
