import { existsSync, realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  EVENTS_DB_FILE,
  openSqliteStoreInDir,
  openStore,
  SqliteEventStore,
  StoreConnectionString,
  type StoreLocation,
} from '../../adapters/driven/store/index.ts';
import { EVENT_STORE_LAYOUT } from '../../adapters/driven/store/sqlite/read-only.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import { isCredenceError } from '../../domain/errors.ts';
import { UsageError } from '../program.ts';
import { lockStoreFolder } from './folder-lock.ts';
import { withoutControls } from '../../adapters/http/config-values.ts';
import { MAX_CONNECTION_STRING_CHARS } from '../../domain/json-limits.ts';
import { z } from 'zod';
import type { Io } from '../io.ts';

/**
 * `--store <connection string>` for commands that read an existing store (issue 6: the engine picks the store from
 * a connection string): `sqlite:<folder>`, `esdb://…`, `kurrentdb://…` (adapters/store/open-store.ts). Parsed with
 * the command's other arguments, bounded in length first (SER-001); messages never repeat the string, which may
 * carry credentials. Omitted: the SQLite store of `--data`.
 */
export const StoreArg = StoreConnectionString.optional();

/**
 * What a command does with the store it opens: `read` (a query, an export, history, state, replay, a projections
 * status) leaves an embedded store's files as it found them; `write` (a rebuild, whose cascade and expiry may append
 * commands) opens it as the service does.
 */
export type StoreAccess = 'read' | 'write';

/**
 * Opens an existing store; an absent SQLite file is a user error (UsageError, exit 2), not a new store, and so is a
 * folder SQLite cannot read it in (a WAL file without its -shm in a folder this account may not write:
 * adapters/driven/files/wal-in-unwritable-folder.ts), said with the file, why and what to do. `store` is the parsed
 * `--store`; without it, `sqlite:<dir>`. `setting` names where the store came from in a refusal (configuredStore); by
 * default `--store`, or `--data` without one. `access`: read-only unless the command appends (StoreAccess): then the
 * store is opened to write nothing (openSqliteStoreInDir `readOnly`: a killed service's -wal read where it is and
 * left there, review 174), and a file holding no store of this layout (empty, or older: upgrading it would write it,
 * review 177) is bad usage as a folder without events.db is, said with what was found and what to do.
 */
export const openExistingStore = (dir: string, store?: StoreLocation, setting?: string, access: StoreAccess = 'read'): EventStore => {
  const location: StoreLocation = store ?? { kind: 'sqlite', dir };
  const named = setting ?? (store === undefined ? '--data' : '--store');
  // A store a setting names (export's --config, CREDENCE_STORE) over a folder holding its own events.db: refused, as
  // every local read refuses it (localStore), before anything is opened.
  if (store !== undefined && named !== '--store') refuseEventsDbNotChosen(dir, store, named);
  switch (location.kind) {
    case 'sqlite':
      if (!existsSync(join(location.dir, EVENTS_DB_FILE))) {
        // A store the service's settings name (CREDENCE_STORE, its file's `store`) is configured already: npm start
        // would not bring the events a read expects, the setting is what to check (review 278).
        const hint =
          store !== undefined && named !== '--store'
            ? 'the service run with this setting keeps its events there: check that it names the store the service runs on'
            : 'run npm start first, or pass --data DIR or --store URL';
        throw new UsageError(`${named}: no event store in ${location.dir} (${hint})`);
      }
      try {
        if (access === 'write') return openSqliteStoreToWrite(dir, location, named);
        return openSqliteStoreInDir(location.dir, { readOnly: true });
      } catch (error) {
        throw unusableFolderAsUsage(error, named);
      }
    case 'sqlite-memory':
      throw new UsageError(`${named}: an in-memory store holds no events to read; give sqlite:<folder>, esdb://… or kurrentdb://…`);
    case 'eventstoredb':
      return openStore(location.connectionString);
  }
};

/**
 * The embedded store of `location` for a command that writes to it, under its folder's lock when that is not the data
 * folder `data` (lockStoreFolder: refused while a service or another writer holds it), let go when the store closes.
 */
const openSqliteStoreToWrite = (data: string, location: StoreLocation & { readonly kind: 'sqlite' }, setting: string): EventStore => {
  const lock = lockStoreFolder(data, location, setting);
  let store: SqliteEventStore;
  try {
    store = openSqliteStoreInDir(location.dir);
  } catch (error) {
    lock?.release();
    throw error;
  }
  if (lock === undefined) return store;
  const close = store.close.bind(store);
  store.close = () => close().finally(() => lock.release());
  return store;
};

/**
 * A folder the store cannot be read in here (rule `usable_folder`: not to be entered, or a WAL file SQLite cannot
 * read in it) is bad usage of the setting that named it (exit 2, README 'CLI exit codes'), as for `serve`; so is an
 * events.db that holds no event store the read-only store reads (rule EVENT_STORE_LAYOUT, naming the file), as a
 * folder without one is. Any other error is returned as it was.
 */
const unusableFolderAsUsage = (error: unknown, setting: string): unknown => {
  const issues = isCredenceError(error, 'validation') && error.problem.code === 'validation' ? error.problem.issues : [];
  if (issues.length > 0 && issues.every((i) => i.path === 'data' && i.rule === 'usable_folder')) {
    return new UsageError(issues.map((i) => `${setting}: ${i.message}`));
  }
  if (issues.length > 0 && issues.every((i) => i.rule === EVENT_STORE_LAYOUT)) {
    return new UsageError(issues.map((i) => `${setting}: ${i.path}: ${i.message}`));
  }
  return error;
};

/** The setting a data folder CREDENCE_DATA names is said as, in a refusal. */
export const DATA_VARIABLE_SETTING = 'env CREDENCE_DATA';

/** A local command's data folder and the setting that named it, for a refusal (openExistingStore). */
export interface DataFolder {
  readonly dir: string;
  readonly setting: string;
}

/** As `credence serve` reads it (ServiceConfig's `data`): no control character, bounded. */
const EnvDataFolder = withoutControls(z.string().min(1).max(4_096));

/**
 * The data folder of a local command, the one rule for all of them: `--data` when given; otherwise the folder of an
 * embedded store `--store` names (its read models beside it, never in another folder); otherwise `CREDENCE_DATA`, as
 * `credence serve` and `token` read it (review 236: replay, history, query and projections read ./data while token
 * and serve in the same shell followed the variable); otherwise `./data`. Read models of an EventStoreDB store stay
 * local. `env` absent: the variable is not read (export and log-key without --config, which document so).
 */
export const localDataFolder = (
  args: { readonly data?: string | undefined; readonly store?: StoreLocation | undefined },
  env?: Readonly<Record<string, string | undefined>>,
): DataFolder => {
  if (args.data !== undefined) return { dir: args.data, setting: '--data' };
  if (args.store?.kind === 'sqlite') return { dir: args.store.dir, setting: '--store' };
  const variable = env?.['CREDENCE_DATA'];
  // Empty is unset, as loadServiceConfig reads it.
  if (variable === undefined || variable === '') return { dir: './data', setting: '--data (the default; CREDENCE_DATA unset)' };
  const parsed = EnvDataFolder.safeParse(variable);
  if (!parsed.success) throw new UsageError(`env CREDENCE_DATA: ${parsed.error.issues[0]?.message ?? 'must be a folder path'}`);
  return { dir: parsed.data, setting: DATA_VARIABLE_SETTING };
};

/** Where a command's read models live: its data folder (localDataFolder). */
export const readModelDir = (data: string | undefined, store: StoreLocation | undefined, env?: Readonly<Record<string, string | undefined>>): string =>
  localDataFolder({ data, store }, env).dir;

/** The setting CREDENCE_STORE is said as, in a refusal or a warning. */
export const STORE_VARIABLE_SETTING = 'env CREDENCE_STORE';

/** As `credence serve` reads it (ServiceConfig's `store`): bounded, no control character, a store it opens. */
const EnvStore = withoutControls(z.string().max(MAX_CONNECTION_STRING_CHARS, `must be at most ${MAX_CONNECTION_STRING_CHARS} characters`)).pipe(StoreConnectionString);

/**
 * The store CREDENCE_STORE names, read as `credence serve` reads it (empty is unset); a value it would refuse is bad
 * usage naming the variable, never repeating it (it may carry a password).
 */
export const storeOfVariable = (env?: Readonly<Record<string, string | undefined>>): StoreLocation | undefined => {
  const variable = env?.['CREDENCE_STORE'];
  if (variable === undefined || variable === '') return undefined;
  const parsed = EnvStore.safeParse(variable);
  if (!parsed.success) throw new UsageError(parsed.error.issues.map((i) => `${STORE_VARIABLE_SETTING}: ${i.message}`));
  return parsed.data;
};

/**
 * The store of a local read command, chosen as `credence serve` chooses it (loadServiceConfig: the flag, else the
 * variable): `--store`; else the store CREDENCE_STORE names, whichever folder `--data` or CREDENCE_DATA names, since
 * the service run with them serves that folder from that store (review 278: on a folder served on EventStoreDB the
 * reads said "no event store", and an old events.db left there was read without a word), unless the folder holds its
 * own events.db, which is then refused (refuseEventsDbNotChosen, with `advice` for a command without --store); else the
 * embedded store of the data folder. A refused value is bad usage naming the variable, never repeating it (it may carry
 * a password).
 */
export const localStore = (
  args: { readonly store?: StoreLocation | undefined },
  folder: DataFolder,
  env?: Readonly<Record<string, string | undefined>>,
  advice?: (dir: string, setting: string) => string,
): StoreChoice => {
  if (args.store !== undefined) return { store: args.store, setting: '--store' };
  const store = storeOfVariable(env);
  if (store === undefined) return { store: undefined, setting: folder.setting };
  refuseEventsDbNotChosen(folder.dir, store, STORE_VARIABLE_SETTING, advice);
  return { store, setting: STORE_VARIABLE_SETTING };
};

/** The same folder, followed through links where it exists: `sqlite:./copy` and `sqlite:/abs/copy/` name one store. */
const sameFolder = (a: string, b: string): boolean => {
  const real = (dir: string): string => {
    try {
      return realpathSync(dir);
    } catch {
      return resolve(dir);
    }
  };
  return real(a) === real(b);
};

/** Another store in a refusal, said by its kind (a folder's by the folder), never by the string: it may carry a password. */
const storeKind = (store: StoreLocation): string => {
  switch (store.kind) {
    case 'sqlite':
      return `the embedded store in ${store.dir}`;
    case 'sqlite-memory':
      return 'an in-memory store';
    case 'eventstoredb':
      return 'an EventStoreDB store';
  }
};

/**
 * What a refusal of an events.db not chosen says to do, for a command that takes `--store`: the folder's file by
 * `--store sqlite:DIR` (or, for CREDENCE_STORE, with the variable unset), the other store by moving the file aside,
 * which a service with the same settings never reads (review 282: "unset CREDENCE_STORE" was advice for the other
 * store, and read the stale file), or by `--store`.
 */
const storeFlagAdvice = (dir: string, setting: string): string =>
  `to read that file, pass --store sqlite:${dir}` +
  (setting === STORE_VARIABLE_SETTING ? ' (or unset CREDENCE_STORE)' : '') +
  `; to read the store ${setting} names, which a service with these settings serves ${dir} from without ever reading ` +
  `${join(dir, EVENTS_DB_FILE)}, move that file aside if it was left from before the folder moved to that store ` +
  `(mv ${join(dir, EVENTS_DB_FILE)} ${join(dir, `${EVENTS_DB_FILE}.before-move`)}, with its -wal and -shm), or pass --store with that store`;

/**
 * The one rule of every local command for a data folder that holds its own events.db while a setting (CREDENCE_STORE,
 * a --config file's `store`), not `--store`, names another store: refused, exit 2, naming both, before anything is
 * opened or written. Review 280: that store was read in the file's place (a copy of a folder inspected with
 * CREDENCE_STORE set for the service read the live cluster, exit 0, and its read models were rebuilt from the
 * cluster's log, while `verify --data` audited the copy's file): which of the two is meant is not guessed. A folder
 * without events.db (one served on EventStoreDB) reads the store the setting names, as the service does.
 */
const refuseEventsDbNotChosen = (
  dir: string,
  store: StoreLocation,
  setting: string,
  advice: (dir: string, setting: string) => string = storeFlagAdvice,
): void => {
  if (store.kind === 'sqlite' && sameFolder(store.dir, dir)) return;
  const file = join(dir, EVENTS_DB_FILE);
  if (!existsSync(file)) return;
  throw new UsageError(
    `${setting}: the data folder ${dir} holds its own event store, ${file}, and ${setting} names another, ${storeKind(store)}: ` +
      `which one to read is not guessed; ${advice(dir, setting)}`,
  );
};

/**
 * The folder of the embedded store a local read command reads (localStore), for what reads its file directly (replay's
 * workers: adapters/replay-workers/pool.ts); undefined when that store is EventStoreDB's or in memory, whose events
 * only the store itself reads.
 */
export const localEventsDir = (
  args: { readonly data?: string | undefined; readonly store?: StoreLocation | undefined },
  env?: Readonly<Record<string, string | undefined>>,
): string | undefined => {
  const folder = localDataFolder(args, env);
  const { store } = localStore(args, folder, env);
  if (store === undefined) return folder.dir;
  return store.kind === 'sqlite' ? store.dir : undefined;
};

/**
 * The existing store of a local read command (openExistingStore) and its data folder (localDataFolder): `--store`'s,
 * else CREDENCE_STORE's, else the embedded store of the data folder (localStore), a refusal naming the setting that
 * named the store, or the folder.
 */
export const openLocalStore = (
  args: { readonly data?: string | undefined; readonly store?: StoreLocation | undefined },
  io: Io,
  access: StoreAccess = 'read',
): { readonly data: string; readonly store: EventStore; readonly servedFrom: boolean } => {
  const { folder, chosen, servedFrom } = localSource(args, io.env ?? process.env);
  return { data: folder.dir, store: openExistingStore(folder.dir, chosen.store, chosen.setting, access), servedFrom };
};

/**
 * A local read's data folder (localDataFolder), the store it reads (localStore), and whether that store is the one the
 * folder is served from (`servedFrom`: its events.db, or CREDENCE_STORE's for a folder without one), nothing opened:
 * for what is kept in the folder about its own store (read models caught up from it, replay's checkpoint).
 */
export const localSource = (
  args: { readonly data?: string | undefined; readonly store?: StoreLocation | undefined },
  env?: Readonly<Record<string, string | undefined>>,
): { readonly folder: DataFolder; readonly chosen: StoreChoice; readonly servedFrom: boolean } => {
  const folder = localDataFolder(args, env);
  const chosen = localStore(args, folder, env);
  // The store the folder is served from (its events.db, or CREDENCE_STORE's for a folder without one): its read models
  // may be caught up from it, rebuilt as the service's next start would after a restore. Another `--store` is not.
  const servedFrom = chosen.setting !== '--store' || (chosen.store?.kind === 'sqlite' && sameFolder(chosen.store.dir, folder.dir));
  return { folder, chosen, servedFrom };
};

/** The store a local command reads, and the setting that named it (for a refusal: openExistingStore). */
export interface StoreChoice {
  /** Undefined: the embedded store of the data folder. */
  readonly store: StoreLocation | undefined;
  readonly setting: string;
}

/** The event store and the data folder a service's configuration resolved (loadServiceConfig), with the setting that named each. */
export interface ServiceStore {
  /** As loadServiceConfig accepted it; undefined: the embedded store of the data folder. */
  readonly store: string | undefined;
  /** `env CREDENCE_STORE` or `file F: store`. */
  readonly storeSetting: string;
  /** `env CREDENCE_DATA`, or `--data` (the flag, the file's or the default). */
  readonly dataSetting: string;
}

/**
 * The store of a local command that also takes the service's `--config` file, chosen as its data folder is (the
 * command line over the service's settings): `--store`; else the store CREDENCE_STORE names, whichever folder `--data`
 * names, as every local read and `credence serve` take it (a folder holding its own events.db is refused when the store
 * is opened: openExistingStore); else the embedded store of `--data`, the folder named being the one read; else the
 * file's `store`, so a folder served on EventStoreDB is exported from there, not from a stray events.db; else the
 * embedded store of the data folder. Only the setting's name is ever said, never the string, which may carry a password.
 */
export const configuredStore = (
  args: { readonly data?: string | undefined; readonly store?: StoreLocation | undefined },
  service: ServiceStore | undefined,
): StoreChoice => {
  if (args.store !== undefined) return { store: args.store, setting: '--store' };
  // Found in review (f902 #2): `export --data DIR` read DIR's own events.db while CREDENCE_STORE named another store,
  // which every other local read refuses and a service with these settings never reads.
  if (service?.store !== undefined && service.storeSetting === STORE_VARIABLE_SETTING) {
    return { store: StoreConnectionString.parse(service.store), setting: service.storeSetting };
  }
  if (args.data !== undefined || service?.store === undefined) return { store: undefined, setting: service?.dataSetting ?? '--data' };
  return { store: StoreConnectionString.parse(service.store), setting: service.storeSetting };
};
