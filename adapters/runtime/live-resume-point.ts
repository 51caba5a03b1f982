import type { EventStore } from '../../domain/ports/event-store.ts';
import { isOwnStream } from '../../domain/own-record.ts';
import type { Follower } from './live-followers.ts';

/** Positions followers handled that are looked at for where the subscription resumes, before the store is scanned. */
const HANDLED_LOOKED_AT = 3;

/**
 * Where the subscription resumes after at start on a store that is not gapless: the newest position a follower handled
 * that is a record of Credence's still in the store, else Credence's newest record (`ownHeadPosition`: a scan of $all
 * back from its end past all that other applications wrote since, unbounded on a busy shared cluster, review 280's
 * follow-up), so scanned for only when no follower handled one (a fresh folder). Any record of Credence's at or before
 * the head is a correct start: what is delivered up to the head is passed over (followStore). A read model's
 * checkpoint is one (checkpointableOn), save one an earlier version kept on another application's record; the log's
 * newest leaf may be another's; either may be scavenged since, or be another log's, past the head (checkReadModels
 * resets read models of one first): each is looked at (one record read), the newest first.
 */
export const resumePointAtStart = async (store: EventStore, followers: readonly Follower[]): Promise<bigint | undefined> => {
  const handled = new Set<bigint>();
  for (const f of followers) if (f.handledThrough !== undefined && f.handledThrough > 0n) handled.add(f.handledThrough);
  const newestFirst = [...handled].sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
  for (const position of store.recordAt === undefined ? [] : newestFirst.slice(0, HANDLED_LOOKED_AT)) {
    const record = await store.recordAt?.(position);
    if (record !== undefined && isOwnStream(record.streamId)) return position;
  }
  return store.ownHeadPosition?.();
};
