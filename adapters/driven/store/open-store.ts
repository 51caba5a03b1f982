/**
 * Picks the event store from a connection string (config, CLI flag or CREDENCE_STORE):
 * - `sqlite:./data` (the default): the embedded store in that folder (file `events.db` inside);
 * - `sqlite::memory:`: the embedded store in memory (tests, demos);
 * - either sqlite form may end in `?durability=full` (the default: an append is acknowledged once synced to disk)
 *   or `?durability=normal` (once written to the OS; for tests and benchmarks that say so), see sqlite/schema.ts;
 *   any other option, or a `?` in the folder path, is refused (rule `unknown_option`);
 * - `esdb://…`, `esdb+discover://…`, `kurrentdb://…`, `kurrentdb+discover://…`: EventStoreDB / KurrentDB.
 *   The rest of the string (hosts, `?tls=…`, `tlsCAFile`, `username:password@`, node preference) is the client's
 *   connection-string syntax; kurrentdb schemes are rewritten to esdb for the 6.x client in its adapter. The client's
 *   own parser reads it here (eventstoredb/connection-string.ts), so what it would refuse, or silently ignore (an
 *   unknown option), is refused with the other settings, before anything opens.
 * Parsed with zod at this boundary; error messages never repeat the string, which may carry credentials.
 */
import { z } from 'zod';
import { validationError } from '../../../domain/errors.ts';
import { MAX_CONNECTION_STRING_CHARS } from '../../../domain/json-limits.ts';
import type { EventStore } from '../../../domain/ports/event-store.ts';
import { DURABILITIES, openSqliteStore, openSqliteStoreInDir, type Durability } from './sqlite/index.ts';
import { connectionStringProblems, openEventStoreDbStore, type EventStoreDbStoreOptions } from './eventstoredb/index.ts';

export const DEFAULT_STORE = 'sqlite:./data';

export type StoreLocation =
  | { readonly kind: 'sqlite'; readonly dir: string; readonly durability?: Durability }
  | { readonly kind: 'sqlite-memory'; readonly durability?: Durability }
  | { readonly kind: 'eventstoredb'; readonly connectionString: string };

const EXPECTED = 'sqlite:<folder>[?durability=full|normal], sqlite::memory:, esdb://host:port[?options], esdb+discover://…, kurrentdb://… or kurrentdb+discover://…';
const ESDB = /^(?:esdb|kurrentdb)(?:\+discover)?:\/\/(?:[^@\s/?#]+@)?[^@\s/?#]+\/?(?:\?\S*)?$/i;

/**
 * What is wrong with what follows the `?` of a `sqlite:` string, if anything: a `?` in the folder path (the rest not a
 * `key=value` list), an option other than `durability` (named, bounded and escaped), or durability given twice.
 */
const sqliteOptionProblem = (rest: string): string | undefined => {
  const known = `the one option a sqlite: store takes is durability (?durability=${DURABILITIES.join('|')})`;
  if (rest.includes('?') || !rest.includes('=')) return `a sqlite: folder path must not hold ?; ${known}`;
  const keys = rest.split('&').map((pair) => pair.split('=')[0]!);
  const unknown = keys.find((key) => key.toLowerCase() !== 'durability');
  if (unknown !== undefined) return `unknown option ${JSON.stringify(unknown.slice(0, 64))} (rule unknown_option): ${known}`;
  return keys.length > 1 ? `durability is given ${keys.length} times: ${known}` : undefined;
};

export const StoreConnectionString = z
  .string()
  // Far above any real connection string (hosts, credentials, options): bounded before anything scans it (SER-001).
  .max(MAX_CONNECTION_STRING_CHARS, `must be at most ${MAX_CONNECTION_STRING_CHARS} characters`)
  .trim()
  .min(1, `must be ${EXPECTED}`)
  .transform((whole, context): StoreLocation => {
    // After `sqlite:<folder>` only `?durability=…` is read, and a folder path holds no `?` (review 236: a misspelt
    // `?durabilty=normal` became part of a new folder's name, and the store ran at the default durability).
    const query = /^sqlite:/i.test(whole) ? whole.indexOf('?') : -1;
    const value = query < 0 ? whole : whole.slice(0, query);
    const rest = query < 0 ? undefined : whole.slice(query + 1);
    const problem = rest === undefined ? undefined : sqliteOptionProblem(rest);
    if (problem !== undefined) {
      context.addIssue({ code: 'custom', params: { rule: 'unknown_option' }, message: problem });
      return z.NEVER;
    }
    const durability = rest?.slice(rest.indexOf('=') + 1).toLowerCase();
    if (durability !== undefined && !(DURABILITIES as readonly string[]).includes(durability)) {
      context.addIssue({ code: 'custom', message: `durability must be one of ${DURABILITIES.join(', ')}` });
      return z.NEVER;
    }
    const chosen = value !== whole ? { durability: durability as Durability } : {};
    if (value.toLowerCase() === 'sqlite::memory:') return { kind: 'sqlite-memory', ...chosen };
    if (/^sqlite:/i.test(value)) {
      const dir = value.slice('sqlite:'.length);
      if (dir.trim().length > 0 && !dir.startsWith(':')) return { kind: 'sqlite', dir, ...chosen };
    } else if (ESDB.test(value)) {
      const problems = connectionStringProblems(value);
      if (problems.length === 0) return { kind: 'eventstoredb', connectionString: value };
      for (const message of problems) context.addIssue({ code: 'custom', message });
      return z.NEVER;
    }
    context.addIssue({ code: 'custom', message: `must be ${EXPECTED}` });
    return z.NEVER;
  });

/** The issue's own rule where it names one (`unknown_option`), zod's code otherwise. */
const ruleOf = (issue: z.core.$ZodIssue): string => {
  const rule = (issue as { params?: { rule?: unknown } }).params?.rule;
  return typeof rule === 'string' ? rule : issue.code;
};

export function parseStoreConnectionString(value: string | undefined, argument = 'store'): StoreLocation {
  const parsed = StoreConnectionString.safeParse(value ?? DEFAULT_STORE);
  if (parsed.success) return parsed.data;
  throw validationError(
    parsed.error.issues.map((issue) => ({ path: argument, rule: ruleOf(issue), message: issue.message })),
    'store connection string',
  );
}

export interface OpenStoreOptions {
  readonly eventStoreDb?: EventStoreDbStoreOptions;
  /**
   * The embedded store's durability when the connection string names none (default `full`); a string that names
   * another one is refused, so a deployment never runs less durable than one of its settings says.
   */
  readonly durability?: Durability;
}

const durabilityOf = (location: { readonly durability?: Durability }, options: OpenStoreOptions): Durability => {
  if (location.durability !== undefined && options.durability !== undefined && location.durability !== options.durability) {
    throw validationError(
      [{ path: 'durability', rule: 'conflict', message: `the connection string says ${location.durability}, the durability setting ${options.durability}` }],
      'store connection string',
    );
  }
  return location.durability ?? options.durability ?? 'full';
};

const STORE_FOLDER = Symbol('the folder of the embedded store this error was met writing');

/** The folder markingStoreFolder marked `error` with, if any. */
export const storeFolderOfError = (error: unknown): string | undefined => {
  const dir = error instanceof Error ? (error as Error & { [STORE_FOLDER]?: unknown })[STORE_FOLDER] : undefined;
  return typeof dir === 'string' ? dir : undefined;
};

/**
 * Marks an error met writing the embedded store of folder `dir` (its opening, its folder's lock) with that folder:
 * SQLite's SQLITE_FULL and SQLITE_IOERR name no file, and a start that writes its data folder and a store kept in
 * another folder said a full store folder as its data folder (review 377 item 1; bin/write-failure.ts names it). The
 * first folder marked stays.
 */
export const markingStoreFolder = <T>(dir: string, run: () => T): T => {
  try {
    return run();
  } catch (error) {
    if (error instanceof Error && storeFolderOfError(error) === undefined) Object.defineProperty(error, STORE_FOLDER, { value: dir });
    throw error;
  }
};

export function openStore(connectionString: string = DEFAULT_STORE, options: OpenStoreOptions = {}): EventStore {
  const location = parseStoreConnectionString(connectionString);
  switch (location.kind) {
    case 'sqlite':
      return markingStoreFolder(location.dir, () => openSqliteStoreInDir(location.dir, { durability: durabilityOf(location, options) }));
    case 'sqlite-memory':
      return openSqliteStore({ memory: true, durability: durabilityOf(location, options) });
    case 'eventstoredb':
      return openEventStoreDbStore(location.connectionString, options.eventStoreDb);
  }
}
