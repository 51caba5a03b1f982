import type { EventStore } from '../../domain/ports/event-store.ts';
import type { PublicIdentities } from './identities.ts';
import { underlyingStore } from './underlying-store.ts';

/**
 * The identity fold as it stood just after the identity event at `position`, that event's own position: a record
 * Credence wrote, which stays in the log, so a later fold can read on from it. (A fold kept at a resume point was
 * kept at whatever record sat there, another application's on a shared EventStoreDB, and once that record was
 * scavenged every fold reading on from it failed: review 160.)
 */
export interface KeptFold {
  readonly position: bigint;
  readonly identities: PublicIdentities;
}

/**
 * How many folds are kept per store: each is a copy of the fleet's identities. A few, so that a follower reconnecting
 * with its last id (just below the head) finds one at or below it after a `from=end` open kept one at the head; the
 * lowest goes first, since resume points gather near the head.
 */
export const KEPT_FOLDS = 4;

/**
 * Ascending by position, at most KEPT_FOLDS; keyed by the underlying store (underlying-store.ts), not the view a stream
 * reads it through, so every stream over one store shares them (review 241).
 */
const kept = new WeakMap<EventStore, KeptFold[]>();

/** The kept fold with the greatest position at or below `position`, to fold on from. */
export const keptFoldAtOrBelow = (store: EventStore, position: bigint): KeptFold | undefined =>
  (kept.get(underlyingStore(store)) ?? []).findLast((fold) => fold.position <= position);

/** Whether a fold at `position` would be kept: none is there yet, and it is not below all of a full set. */
export const worthKeeping = (store: EventStore, position: bigint): boolean => {
  const folds = kept.get(underlyingStore(store)) ?? [];
  if (folds.some((fold) => fold.position === position)) return false;
  return folds.length < KEPT_FOLDS || position > folds[0]!.position;
};

/** Keeps `fold` unless one is kept at its position already; past the bound, the lowest is let go. */
export const keepFold = (viewed: EventStore, fold: KeptFold): void => {
  const store = underlyingStore(viewed);
  const folds = kept.get(store) ?? [];
  if (folds.some((f) => f.position === fold.position)) return;
  const next = [...folds, fold].sort((a, b) => (a.position < b.position ? -1 : 1));
  kept.set(store, next.slice(Math.max(0, next.length - KEPT_FOLDS)));
};

/** Lets `fold` go: a fold could not read on from its position. */
export const dropFold = (viewed: EventStore, fold: KeptFold): void => {
  const store = underlyingStore(viewed);
  const folds = kept.get(store);
  if (folds !== undefined) kept.set(store, folds.filter((f) => f !== fold));
};

/** Folds under way over each (underlying) store, each with the position what it keeps stands at or below (its `keptAt`). */
const underWay = new WeakMap<EventStore, Set<{ readonly keptAt: bigint; readonly ended: Promise<void> }>>();

/**
 * A fold under way that will keep one at or below `position` and past `above` (the kept fold a new fold would start
 * from): streams opened together (just after a start, when none is kept) wait for it instead of each reading the
 * same history alongside it.
 */
export const foldUnderWay = (store: EventStore, position: bigint, above: bigint | undefined): Promise<void> | undefined => {
  for (const fold of underWay.get(underlyingStore(store)) ?? []) if (fold.keptAt <= position && (above === undefined || fold.keptAt > above)) return fold.ended;
  return undefined;
};

/** Says a fold up to `keptAt` is under way; the function returned says it ended, whether it kept one or not. */
export const foldStarts = (viewed: EventStore, keptAt: bigint): (() => void) => {
  let end: () => void = () => undefined;
  const fold = { keptAt, ended: new Promise<void>((resolve) => (end = resolve)) };
  const store = underlyingStore(viewed);
  const folds = underWay.get(store) ?? new Set();
  underWay.set(store, folds.add(fold));
  return () => {
    folds.delete(fold);
    end();
  };
};
