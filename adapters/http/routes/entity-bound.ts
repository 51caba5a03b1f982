import { isFactClaim } from '../../../domain/fact-claims.ts';
import { EntityReplayReadsTooMuch } from '../../../projections/replay/entity.ts';
import type { EventStore } from '../../../domain/ports/index.ts';
import type { ServiceContext } from '../context.ts';
import { HttpProblem } from '../problems.ts';
import { entityRecordBound } from '../service-limits-config.ts';

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

/** Records read at once while counting an entity's lifecycle events among its fact claims. */
const COUNT_PAGE = 1_000;

interface Counted {
  /** Lifecycle events and fact claims among the first `read` records. */
  readonly events: number;
  readonly claims: number;
  readonly read: number;
}

/**
 * The lifecycle events and fact claims among a stream's first `upTo` records, read in pages, and no further once the
 * events pass `maxEvents` (the entity is refused whatever follows). Pages go on from the last revision read, not
 * from a count, so a stream whose first revisions are gone (truncated on EventStoreDB) is still counted whole.
 */
const countLifecycle = async (store: Pick<EventStore, 'readStream'>, streamId: string, upTo: number, maxEvents: number): Promise<Counted> => {
  let [events, claims, read, from] = [0, 0, 0, 0n];
  while (read < upTo && events <= maxEvents) {
    const page = await store.readStream(streamId, { fromRevision: from, maxCount: Math.min(COUNT_PAGE, upTo - read) });
    if (page.length === 0) break;
    for (const record of page) {
      if (isFactClaim(record)) claims++;
      else events++;
    }
    read += page.length;
    from = page.at(-1)!.revision + 1n;
  }
  return { events, claims, read };
};

/**
 * 422 `entity_too_long` for an entity with more lifecycle events than `limits.maxEntityEvents`, or, on a store that
 * claims facts (EventStoreDB), a stream of more records than `limits.maxEntityRecords`, before anything reads it whole.
 * 422, not 413: the request is well formed and small; what cannot be processed is the entity it names (413 is about
 * the request's own content, RFC 9110 15.5.14). `instead` says how to read that history in bounded pieces.
 *
 * Fact claims are not the entity's events (every reader passes over them), yet on EventStoreDB they are most of a
 * subscription's or node's records: one per decision that read it (review 172). So a stream of more records than the
 * event bound has its events counted, in pages, up to the record bound; the embedded store writes no claims, and its
 * records are its events, counted as before with one-event reads only.
 */
export const refuseLongEntity = async (context: ServiceContext, streamId: string, instead: string): Promise<void> => {
  const { store } = context.credence;
  const maxEvents = context.limits.maxEntityEvents;
  const records = await lengthBeyond(store, streamId, maxEvents);
  if (records === undefined) return;
  if (store.factChecksWriteNothing === true) {
    throw new HttpProblem(
      422,
      'entity_too_long',
      `${streamId} holds ${records} events, more than the ${maxEvents} one request of this route handles; ${instead}`,
      { streamId, events: records, maxEvents },
    );
  }
  const maxRecords = entityRecordBound(context.limits);
  const { events, claims, read } = await countLifecycle(store, streamId, Math.min(records, maxRecords), maxEvents);
  const details = { streamId, events, records, claims, maxEvents, maxRecords };
  const claimed = `${claims} of the first ${read} of its ${records} records are EventStoreDB fact claims, which are not its events`;
  if (events > maxEvents) {
    const counted = read < records ? `${events} or more` : String(events);
    throw new HttpProblem(422, 'entity_too_long', `${streamId} holds ${counted} events, more than the ${maxEvents} one request of this route handles (${claimed}); ${instead}`, details);
  }
  if (records <= maxRecords) return;
  throw new HttpProblem(
    422,
    'entity_too_long',
    `${streamId} holds ${records} records, more than the ${maxRecords} one request of this route reads (limits.maxEntityRecords): ` +
      `${claims} of the first ${read} are EventStoreDB fact claims (one per decision that read this entity), ${events} its events; ${instead}`,
    details,
  );
};

/**
 * `replay` (one entity's replay, given the most records it may read) held to the entity record bound
 * (`limits.maxEntityRecords`) over every stream it reads, its own and the fact streams its events read up to each
 * event (review 420: a credential's replay of two steps read its node's 200,000 records whole). Past it, the same
 * 422 `entity_too_long` as refuseLongEntity's, naming the stream whose read passed the bound.
 */
export const replayWithinEntityRecordBound = async <T>(context: ServiceContext, instead: string, replay: (maxRecords: number) => Promise<T>): Promise<T> => {
  const maxRecords = entityRecordBound(context.limits);
  try {
    return await replay(maxRecords);
  } catch (error) {
    if (!(error instanceof EntityReplayReadsTooMuch)) throw error;
    throw new HttpProblem(
      422,
      'entity_too_long',
      `the replay of ${error.entity} read ${error.records} records, more than the ${maxRecords} one request of this route reads (limits.maxEntityRecords), ` +
        `by its read of ${error.streamId}${error.streamId === error.entity ? '' : ' (a fact its events read, up to each of them)'}; ${instead}`,
      { streamId: error.streamId, entity: error.entity, records: error.records, maxRecords },
    );
  }
};
