import type { EventStore } from '../../domain/ports/event-store.ts';

/**
 * The property by which a view of a store (GET /v1/events hands each pseudonymised stream a proxy of the store that
 * notes the record each event was made of: adapters/http/sse/event-id.ts) names the store it views. What is kept per
 * store (kept-folds.ts) is kept under that store, so that every stream over it shares it: keyed by each request's view,
 * every reconnect folded the identity history from the start and each stream kept its own copy of it (review 241).
 */
export const UNDERLYING_STORE: unique symbol = Symbol('the store this one is a view of');

/** A store that may be a view of another. */
type MaybeView = EventStore & { readonly [UNDERLYING_STORE]?: EventStore };

/** The store `store` is a view of, through views of views; `store` itself if it is none. */
export const underlyingStore = (store: EventStore): EventStore => {
  let current = store as MaybeView;
  for (;;) {
    const under = current[UNDERLYING_STORE];
    if (under === undefined || under === current) return current;
    current = under as MaybeView;
  }
};
