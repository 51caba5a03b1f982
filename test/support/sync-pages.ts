import type { SqliteEventStore } from '../../adapters/driven/store/index.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';

/** The same store seen through the port's required methods only: what EventStoreDB offers. */
export const withoutSyncPages = (store: EventStore): EventStore => ({
  appendToStream: (...a) => store.appendToStream(...a),
  readStream: (...a) => store.readStream(...a),
  readCommand: (...a) => store.readCommand(...a),
  readAll: (...a) => store.readAll(...a),
  subscribeToAll: (...a) => store.subscribeToAll(...a),
  headPosition: () => store.headPosition(),
  close: () => store.close(),
});

/** The store with readAll refused, pushing the length of each synchronous page read onto `pages`. */
export const syncPagesOnly = (store: SqliteEventStore, pages: number[]): EventStore =>
  Object.assign(Object.create(store) as EventStore, {
    readAll: () => {
      throw new Error('readAll must not be used when the store offers readAllPagesSync');
    },
    readAllPagesSync: (...a: Parameters<SqliteEventStore['readAllPagesSync']>) => {
      const inner = store.readAllPagesSync(...a);
      return {
        *[Symbol.iterator]() {
          for (const page of inner) {
            pages.push(page.length);
            yield page;
          }
        },
      };
    },
  });
