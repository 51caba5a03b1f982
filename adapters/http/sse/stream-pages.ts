/**
 * The store as an event stream reads it: every subscription it opens asks for pages of at most `STREAM_PAGE_BYTES` of
 * stored payload (SER-001, review 285). A stream whose client stops reading holds its store subscription's current
 * page as well as its response's queue (./writer.ts), and the store's own page is 1,000 records (some 4.5 MB of the
 * largest node registrations a stream, 438 MB for 64 stalled canonical streams, where the docs said about 80 MiB). The
 * projections and the live runtime open their subscriptions on the store itself and keep its pages.
 */
import type { EventStore, SubscribeOptions } from '../../../domain/ports/event-store.ts';
import { UNDERLYING_STORE } from '../../../projections/pseudonyms/underlying-store.ts';

/**
 * Characters of stored payload one page of a stream's subscription holds at most (at least one record): 57 of the
 * largest node registrations (some 4.5 kB). Small beside the response's queue (`limits.sseHighWaterBytes`, 1 MiB),
 * and still many events a page read: a catch-up reads the same rows in more, smaller statements.
 */
export const STREAM_PAGE_BYTES = 256 * 1024;

/**
 * A view of `store` whose subscriptions ask for pages of at most `STREAM_PAGE_BYTES`, unless they ask for less. A
 * proxy, not Object.create: a store's methods may read #fields, which only the store itself has. It names the store
 * it views (`UNDERLYING_STORE`), under which what is kept per store is kept (projections/pseudonyms/kept-folds.ts).
 */
export const streamPagedStore = (store: EventStore): EventStore => {
  const subscribeToAll: EventStore['subscribeToAll'] = (options: SubscribeOptions) =>
    store.subscribeToAll({ ...options, pageBytes: Math.min(options.pageBytes ?? STREAM_PAGE_BYTES, STREAM_PAGE_BYTES) });
  return new Proxy(store, {
    get: (target, name) => {
      if (name === 'subscribeToAll') return subscribeToAll;
      if (name === UNDERLYING_STORE) return target;
      const value: unknown = Reflect.get(target, name, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
};
