import type { StoreLocation } from '../../adapters/driven/store/index.ts';
import type { OperatorClient } from '../../adapters/client/operator.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import type { Io } from '../io.ts';
import { openLocalStore } from './open-store.ts';
import { clientOf, readTarget, type ServerOptionValues } from './options.ts';
import { warnOfUnknownVariables } from './unknown-variables.ts';

/** The options of a read command that works on a local store or through a server (withLocalStore + withServer). */
export type ReadSourceOptions = ServerOptionValues & { readonly data?: string | undefined; readonly store?: StoreLocation | undefined };

/**
 * Runs a read where readTarget says it runs: `local` on the existing store of `--store` or of the data folder
 * (openLocalStore: `--data`, else CREDENCE_DATA, else ./data), closed afterwards whatever happens (warned first of a
 * `CREDENCE_*` variable it does not read: warnOfUnknownVariables); `remote` with the client of the server.
 */
export const readFromSource = async <T>(
  args: ReadSourceOptions,
  io: Io,
  local: (store: EventStore) => Promise<T>,
  remote: (client: OperatorClient) => Promise<T>,
): Promise<T> => {
  const target = readTarget(args, io);
  if (target !== undefined) return remote(clientOf(target));
  await warnOfUnknownVariables(io);
  const { store } = openLocalStore(args, io);
  try {
    return await local(store);
  } finally {
    await store.close();
  }
};
