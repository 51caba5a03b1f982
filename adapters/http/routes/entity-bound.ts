import type { EventStore } from '../../../domain/ports/index.ts';
import type { ServiceContext } from '../context.ts';
import { HttpProblem } from '../problems.ts';

const holds = async (store: Pick<EventStore, 'readStream'>, streamId: string, revision: number): Promise<boolean> =>
  (await store.readStream(streamId, { fromRevision: BigInt(revision), maxCount: 1 })).length > 0;

/**
 * How many events a stream holds when it holds more than `bound` (undefined when it does not), found by reads of
 * one event each at chosen revisions (doubling, then halving): the port has no head revision of a stream, and
 * reading the stream to count it is the cost this bound exists to refuse.
 */
export const lengthBeyond = async (store: Pick<EventStore, 'readStream'>, streamId: string, bound: number): Promise<number | undefined> => {
  if (!(await holds(store, streamId, bound))) return undefined;
  let held = bound;
  // Not `bound * 2` alone: a bound of 0 (a caller asking whether a stream holds any event) would never double.
  let absent = Math.max(bound * 2, 1);
  while (await holds(store, streamId, absent)) [held, absent] = [absent, absent * 2];
  while (absent - held > 1) {
    const mid = held + Math.floor((absent - held) / 2);
    if (await holds(store, streamId, mid)) held = mid;
    else absent = mid;
  }
  return held + 1;
};

/**
 * 422 `entity_too_long` for an entity whose stream holds more events than the bound, before anything reads it.
 * 422, not 413: the request is well formed and small; what cannot be processed is the entity it names (413 is about
 * the request's own content, RFC 9110 15.5.14). `instead` says how to read that history in bounded pieces.
 */
export const refuseLongEntity = async (context: ServiceContext, streamId: string, instead: string): Promise<void> => {
  const maxEvents = context.limits.maxEntityEvents;
  const events = await lengthBeyond(context.credence.store, streamId, maxEvents);
  if (events === undefined) return;
  throw new HttpProblem(
    422,
    'entity_too_long',
    `${streamId} holds ${events} events, more than the ${maxEvents} one request of this route handles; ${instead}`,
    { streamId, events, maxEvents },
  );
};
