import { MAX_STREAMS_PER_READ, type EventToAppend, type FactRead } from '../../../../domain/ports/event-store.ts';
import { isPlainObject } from './rows.ts';

// Caller mistakes are programming errors: they throw plain errors that name the argument.

/** The longest delay setTimeout honours (2^31 - 1 ms, about 24.8 days); a longer one fires at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * A non-empty string that reads back as written. A lone surrogate reaches SQLite as bytes that read back as other
 * characters (U+FFFD): a stream appended to under such an id was read back under another, and an append to the id as
 * read went to yet another stream (found in review 23); nor could the rows of a `readStreams` call be told apart.
 */
export const checkId = (value: unknown, argument: string): string => {
  if (typeof value !== 'string' || value.length === 0) throw new Error(`${argument}: must be a non-empty string`);
  if (LONE_SURROGATE.test(value)) throw new Error(`${argument}: must be well-formed Unicode (no lone surrogate)`);
  return value;
};

export function checkEventsToAppend(streamId: unknown, events: readonly EventToAppend[]): void {
  checkId(streamId, 'streamId');
  if (!Array.isArray(events) || events.length === 0) {
    throw new Error('events: must be a non-empty array (an append of nothing is a caller mistake)');
  }
  events.forEach((event, i) => {
    checkId(event.id, `events[${i}].id`);
    checkId(event.type, `events[${i}].type`);
    if (!isPlainObject(event.data)) throw new Error(`events[${i}].data: must be a JSON object`);
    if (!isPlainObject(event.metadata)) throw new Error(`events[${i}].metadata: must be a JSON object`);
  });
}

/** Facts are other streams: a fact on the stream being appended to would be a second, weaker expectedRevision. */
export function checkFacts(streamId: string, facts: readonly FactRead[] | undefined): void {
  if (facts === undefined) return;
  if (!Array.isArray(facts)) throw new Error('options.facts: must be an array');
  facts.forEach((fact, i) => {
    checkId(fact.streamId, `options.facts[${i}].streamId`);
    if (fact.streamId === streamId) throw new Error(`options.facts[${i}].streamId: must be another stream than the one appended to`);
    if (fact.revision !== undefined && typeof fact.revision !== 'bigint') throw new Error(`options.facts[${i}].revision: must be a bigint or undefined`);
  });
}

export const checkCount = (value: number | undefined, argument: string): number => {
  if (value === undefined) return Number.POSITIVE_INFINITY;
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${argument}: must be a non-negative integer`);
  return value;
};

export { checkPosition } from '../positions.ts';

/** The distinct stream ids of a `readStreams` call, in the order first asked for. */
export const checkStreamIds = (streamIds: unknown): string[] => {
  if (!Array.isArray(streamIds)) throw new Error('streamIds: must be an array');
  const distinct = new Set<string>();
  // An index loop, not forEach: a hole in a sparse array is refused, not skipped.
  for (let i = 0; i < streamIds.length; i++) {
    distinct.add(checkId(streamIds[i], `streamIds[${i}]`));
  }
  if (distinct.size > MAX_STREAMS_PER_READ) throw new Error(`streamIds: at most ${MAX_STREAMS_PER_READ} distinct streams per read, got ${distinct.size}`);
  return [...distinct];
};
