import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { openSqliteStoreInDir } from '../../adapters/store/index.ts';
import type { EventStore } from '../../adapters/store/port.ts';
import type { Io } from '../io.ts';

/** Opens the store of an existing data folder for reading; an absent folder is a user error, not a new store. */
export const openExistingStore = (dir: string, io: Io): EventStore | undefined => {
  if (!existsSync(join(dir, 'events.db'))) {
    io.err(`error: --data: no event store in ${dir} (run npm start first, or pass --data DIR)`);
    return undefined;
  }
  return openSqliteStoreInDir(dir);
};
