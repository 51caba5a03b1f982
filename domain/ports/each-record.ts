import type { EventStore, ReadAllOptions, RecordedEvent } from './event-store.ts';

/**
 * Calls `visit` on every record `store.readAll(options)` gives, in order, and answers how many there were. A store
 * that reads in-process hands them over in synchronous pages (`readAllPagesSync`: the same records and errors),
 * sparing the promise and async-generator step `readAll` costs per record (issue 15 items 4 and 5); then the call
 * awaits `betweenPages` after each page when given, else yields to the microtask queue once, as `readAll`'s iteration
 * did at least once. A microtask never lets the event loop turn: a caller reading a whole store in a process that
 * serves requests passes a macrotask (setImmediate) as `betweenPages`, or nothing else runs until the read ends
 * (review 242: a full fleet replay held /healthz for its whole length). Domain code stays pure: the caller, on the
 * I/O side, brings the turn. Any other store (EventStoreDB) is read through `readAll`, whose reads turn the loop.
 */
export const eachRecord = async (
  store: EventStore,
  options: ReadAllOptions,
  visit: (record: RecordedEvent) => void,
  betweenPages?: () => Promise<unknown>,
): Promise<number> => {
  let read = 0;
  if (store.readAllPagesSync !== undefined) {
    for (const page of store.readAllPagesSync(options)) {
      for (const record of page) {
        read++;
        visit(record);
      }
      if (betweenPages !== undefined) await betweenPages();
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
