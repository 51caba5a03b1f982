import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { EventStore, RecordedEvent } from '../../domain/ports/event-store.ts';
import { PublicIdentities } from './identities.ts';
import { IDENTITY_EVENT_TYPES } from './identity-event-types.ts';
import { dropFold, foldStarts, foldUnderWay, keepFold, KEPT_FOLDS, keptFoldAtOrBelow, worthKeeping, type KeptFold } from './kept-folds.ts';
import { lifecycleFact } from '../streams/lifecycle-fact.ts';

/** Identity events folded between two turns of the event loop: a long history never holds it (the service's other requests). */
const FOLDED_PER_TURN = 1000;

/**
 * Folds the identity events up to `position` so a resumed stream pseudonymises exactly as an unbroken one. Folds on
 * from the kept fold (kept-folds.ts) with the greatest position at or below `position`, if any, and keeps the fold as
 * it stood at the last identity event it read at or below the head: a stream resumed at or after that (`from=end`, a
 * reconnect) copies it and folds only what came since, instead of the whole history at every open; one opened while a
 * fold that will keep such a fold is under way waits for it (review 160). Yields to the event loop every
 * FOLDED_PER_TURN events, and stops (undefined) once `cancelled` says so (the subscriber left).
 */
export const identitiesUpTo = async (
  store: EventStore,
  position: bigint | undefined,
  cancelled: () => boolean = () => false,
): Promise<PublicIdentities | undefined> => {
  if (position === undefined) return new PublicIdentities();
  // Kept for others only up to what exists now: a resume point past the head (a client's Last-Event-ID after a
  // restore) must not stand for events appended below it later, which the fold never read.
  const head = (await store.headPosition()) ?? 0n;
  const keptAt = position < head ? position : head;
  // Each pause of a copy asks whether the subscriber left: a stream closed mid-copy stops copying at once, so opening
  // and closing streams cannot pile copies of the fleet's fold up past the cap (found in review).
  const pause = async (): Promise<void> => {
    await yieldToLoop();
    if (cancelled()) throw LEFT;
  };
  let base = keptFoldAtOrBelow(store, position);
  // A few waits at most: folds that keep starting alongside must not hold this one back for ever.
  for (let waits = 0; waits < KEPT_FOLDS; waits++) {
    const underWay = foldUnderWay(store, position, base?.position);
    if (underWay === undefined) break;
    await underWay;
    if (cancelled()) return undefined;
    base = keptFoldAtOrBelow(store, position);
  }
  try {
    try {
      return await foldFrom({ store, position, keptAt, base, pause, cancelled });
    } catch (error) {
      if (!(error instanceof ReadFailed) || base === undefined) throw error;
      // Its position could not be read from (its record left the log): let go for every stream, and this one folds
      // from the start, where every later stream failed until a restart (review 160).
      dropFold(store, base);
      return await foldFrom({ store, position, keptAt, base: undefined, pause, cancelled });
    }
  } catch (error) {
    if (error === LEFT) return undefined;
    throw error instanceof ReadFailed ? error.cause : error;
  }
};

/** Thrown by a copy's pause once the subscriber left. */
const LEFT = Symbol('the subscriber left');

/** The store's read failed (not the fold over what it gave): a kept fold it read on from is let go. */
class ReadFailed extends Error {
  constructor(cause: unknown) {
    super('the read of the identity events failed', { cause });
  }
}

/** The records `readAll` gives; its failures as ReadFailed (a failure of the caller's loop body is not caught here). */
async function* reading(records: AsyncIterable<RecordedEvent>): AsyncIterable<RecordedEvent> {
  try {
    yield* records;
  } catch (error) {
    throw new ReadFailed(error);
  }
}

/** One fold: up to `position` from `base` (or the start), keeping the fold as it stood at `keptAt`. */
interface Fold {
  readonly store: EventStore;
  readonly position: bigint;
  readonly keptAt: bigint;
  readonly base: KeptFold | undefined;
  readonly pause: () => Promise<void>;
  readonly cancelled: () => boolean;
}

/** `foldOn`, known to the streams that start meanwhile as under way until it ends (they wait for it). */
const foldFrom = async (fold: Fold): Promise<PublicIdentities | undefined> => {
  const ended = foldStarts(fold.store, fold.keptAt);
  try {
    return await foldOn(fold);
  } finally {
    ended();
  }
};

const foldOn = async ({ store, position, keptAt, base, pause, cancelled }: Fold): Promise<PublicIdentities | undefined> => {
  const identities = base === undefined ? new PublicIdentities() : await base.identities.copyPausing(pause);
  /** The last identity event folded at or before `keptAt`: the fold as it stood there is the one to keep. */
  let last = base?.position;
  /** That fold, taken before the first event past `keptAt` (appended while folding, perhaps) is observed. */
  let atKept: KeptFold | undefined;
  let passedKept = false;
  let folded = 0;
  for await (const record of reading(store.readAll({
    filter: { eventTypes: IDENTITY_EVENT_TYPES },
    ...(base !== undefined ? { afterPosition: base.position } : {}),
  }))) {
    if (record.position > position) break;
    if (!passedKept && record.position > keptAt) {
      passedKept = true;
      atKept = await keepable(store, last, base, identities, pause);
    }
    const fact = lifecycleFact(record);
    if (fact !== undefined) {
      identities.observe(fact.event, fact.at);
      // A decoded fact sits in an entity's stream: a record Credence wrote (a foreign record of the same type is not one).
      if (record.position <= keptAt) last = record.position;
    }
    if (++folded % FOLDED_PER_TURN === 0) {
      await yieldToLoop();
      if (cancelled()) return undefined;
    }
  }
  // Every event up to `keptAt` was stored before the fold began, so was read; the caller folds on in its own copy.
  if (!passedKept) atKept = await keepable(store, last, base, identities, pause);
  if (atKept !== undefined) keepFold(store, atKept);
  return identities;
};

/** A copy of the fold to keep at `last`, unless it is the base's, or one is kept there, or it would be let go at once. */
const keepable = async (
  store: EventStore,
  last: bigint | undefined,
  base: KeptFold | undefined,
  identities: PublicIdentities,
  pause: () => Promise<void>,
): Promise<KeptFold | undefined> => {
  if (last === undefined || last === base?.position || !worthKeeping(store, last)) return undefined;
  return { position: last, identities: await identities.copyPausing(pause) };
};
