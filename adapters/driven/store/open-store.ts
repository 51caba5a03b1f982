/**
 * Picks the event store from a connection string (config, CLI flag or CREDENCE_STORE):
 * - `sqlite:./data` (the default): the embedded store in that folder (file `events.db` inside);
 * - `sqlite::memory:`: the embedded store in memory (tests, demos);
 * - `esdb://…`, `esdb+discover://…`, `kurrentdb://…`, `kurrentdb+discover://…`: EventStoreDB / KurrentDB.
 *   The rest of the string (hosts, `?tls=…`, `tlsCAFile`, `username:password@`, node preference) is the client's
 *   connection-string syntax; kurrentdb schemes are rewritten to esdb for the 6.x client in its adapter.
 * Parsed with zod at this boundary; error messages never repeat the string, which may carry credentials.
 */
import { z } from 'zod';
import { validationError } from '../../../domain/errors.ts';
import { MAX_CONNECTION_STRING_CHARS } from '../../../domain/json-limits.ts';
import type { EventStore } from '../../../domain/ports/event-store.ts';
import { openSqliteStore, openSqliteStoreInDir } from './sqlite/index.ts';
import { openEventStoreDbStore, type EventStoreDbStoreOptions } from './eventstoredb/index.ts';

export const DEFAULT_STORE = 'sqlite:./data';

export type StoreLocation =
  | { readonly kind: 'sqlite'; readonly dir: string }
  | { readonly kind: 'sqlite-memory' }
  | { readonly kind: 'eventstoredb'; readonly connectionString: string };

const EXPECTED = 'sqlite:<folder>, sqlite::memory:, esdb://host:port[?options], esdb+discover://…, kurrentdb://… or kurrentdb+discover://…';
const ESDB = /^(?:esdb|kurrentdb)(?:\+discover)?:\/\/(?:[^@\s/?#]+@)?[^@\s/?#]+\/?(?:\?\S*)?$/i;

export const StoreConnectionString = z
  .string()
  // Far above any real connection string (hosts, credentials, options): bounded before anything scans it (SER-001).
  .max(MAX_CONNECTION_STRING_CHARS, `must be at most ${MAX_CONNECTION_STRING_CHARS} characters`)
  .trim()
  .min(1, `must be ${EXPECTED}`)
  .transform((value, context): StoreLocation => {
    if (value.toLowerCase() === 'sqlite::memory:') return { kind: 'sqlite-memory' };
    if (/^sqlite:/i.test(value)) {
      const dir = value.slice('sqlite:'.length);
      if (dir.trim().length > 0 && !dir.startsWith(':')) return { kind: 'sqlite', dir };
    } else if (ESDB.test(value)) {
      return { kind: 'eventstoredb', connectionString: value };
    }
    context.addIssue({ code: 'custom', message: `must be ${EXPECTED}` });
    return z.NEVER;
  });

export function parseStoreConnectionString(value: string | undefined, argument = 'store'): StoreLocation {
  const parsed = StoreConnectionString.safeParse(value ?? DEFAULT_STORE);
  if (parsed.success) return parsed.data;
  throw validationError(
    parsed.error.issues.map((issue) => ({ path: argument, rule: issue.code, message: issue.message })),
    'store connection string',
  );
}

export interface OpenStoreOptions {
  readonly eventStoreDb?: EventStoreDbStoreOptions;
}

export function openStore(connectionString: string = DEFAULT_STORE, options: OpenStoreOptions = {}): EventStore {
  const location = parseStoreConnectionString(connectionString);
  switch (location.kind) {
    case 'sqlite':
      return openSqliteStoreInDir(location.dir);
    case 'sqlite-memory':
      return openSqliteStore({ memory: true });
    case 'eventstoredb':
      return openEventStoreDbStore(location.connectionString, options.eventStoreDb);
  }
}
