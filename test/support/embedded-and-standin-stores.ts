import { afterAll } from 'vitest';
import { openSqliteStore } from '../../adapters/driven/store/index.ts';
import { openEventStoreDbStore } from '../../adapters/driven/store/eventstoredb/index.ts';
import type { EventStore } from '../../domain/ports/index.ts';
import { startStandIn } from '../esdb-standin/index.ts';

/**
 * The embedded store (in memory) and the EventStoreDB adapter on the gRPC stand-in, as `describe.each` rows: the same
 * assertions against both stores. Each stand-in an opener starts is stopped after the file's tests.
 */
export const embeddedAndStandInStores = (): [string, () => Promise<EventStore>][] => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups) await cleanup();
  });
  return [
    ['the embedded store', async () => openSqliteStore({ memory: true })],
    [
      'the eventstoredb adapter on the gRPC stand-in',
      async () => {
        const standIn = await startStandIn();
        cleanups.push(() => standIn.stop());
        return openEventStoreDbStore(standIn.connectionString);
      },
    ],
  ];
};
