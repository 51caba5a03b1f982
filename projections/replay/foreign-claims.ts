import type { EventStore } from '../../domain/ports/event-store.ts';

/**
 * A store that checks a decision's facts in its own transaction (the embedded store) writes no fact claim: one in its
 * log was written by something else, and replay flags it instead of judging a decision against it.
 */
export const claimsAreForeign = (store: Pick<EventStore, 'factChecksWriteNothing'>): boolean => store.factChecksWriteNothing === true;

/** What replay says of such a claim. */
export const FOREIGN_CLAIM = "a fact claim, which this store never writes (it checks a decision's facts in its own transaction): it vouches for nothing";
