import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { openSqliteStoreInDir, openStore, StoreConnectionString, type StoreLocation } from '../../adapters/driven/store/index.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import { UsageError } from '../program.ts';

/**
 * `--store <connection string>` for commands that read an existing store (issue 6: the engine picks the store from
 * a connection string): `sqlite:<folder>`, `esdb://…`, `kurrentdb://…` (adapters/store/open-store.ts). Parsed with
 * the command's other arguments, bounded in length first (SER-001); messages never repeat the string, which may
 * carry credentials. Omitted: the SQLite store of `--data`.
 */
export const StoreArg = StoreConnectionString.optional();

/**
 * Opens an existing store for reading; an absent SQLite file is a user error (UsageError, exit 2), not a new
 * store. `store` is the parsed `--store`; without it, `sqlite:<dir>`.
 */
export const openExistingStore = (dir: string, store?: StoreLocation): EventStore => {
  const location: StoreLocation = store ?? { kind: 'sqlite', dir };
  switch (location.kind) {
    case 'sqlite':
      if (!existsSync(join(location.dir, 'events.db'))) {
        const flag = store === undefined ? '--data' : '--store';
        throw new UsageError(`${flag}: no event store in ${location.dir} (run npm start first, or pass --data DIR or --store URL)`);
      }
      return openSqliteStoreInDir(location.dir);
    case 'sqlite-memory':
      throw new UsageError('--store: an in-memory store holds no events to read; give sqlite:<folder>, esdb://… or kurrentdb://…');
    case 'eventstoredb':
      return openStore(location.connectionString);
  }
};

/**
 * Where a command's read models live: `--data` when given; otherwise beside an embedded store given by `--store`
 * (its folder), otherwise `./data`. Read models of an EventStoreDB store stay local, in `--data`.
 */
export const readModelDir = (data: string | undefined, store: StoreLocation | undefined): string =>
  data ?? (store?.kind === 'sqlite' ? store.dir : './data');
