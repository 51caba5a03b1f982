import type { EventStore, ReadAllOptions, RecordedEvent } from './event-store.ts';

/**
 * Calls `visit` on every record `store.readAll(options)` gives, in order, and answers how many there were. A store
 * that reads in-process hands them over in synchronous pages (`readAllPagesSync`: the same records and errors),
 * sparing the promise and async-generator step `readAll` costs per record (issue 15 items 4 and 5); then the call
 * yields to the microtask queue once, as `readAll`'s iteration did at least once, so promises waiting meanwhile get
 * their turn between requests. Any other store (EventStoreDB) is read through `readAll`.
 */
export const eachRecord = async (store: EventStore, options: ReadAllOptions, visit: (record: RecordedEvent) => void): Promise<number> => {
  let read = 0;
  if (store.readAllPagesSync !== undefined) {
    for (const page of store.readAllPagesSync(options)) {
      for (const record of page) {
        read++;
        visit(record);
      }
    }
    await Promise.resolve();
  } else {
    for await (const record of store.readAll(options)) {
      read++;
      visit(record);
    }
  }
  return read;
};
