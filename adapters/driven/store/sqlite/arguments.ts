import { MAX_STREAMS_PER_READ } from '../../../../domain/ports/event-store.ts';
import { checkId } from '../append-arguments.ts';

// Caller mistakes are programming errors: they throw plain errors that name the argument.

/** The longest delay setTimeout honours (2^31 - 1 ms, about 24.8 days); a longer one fires at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export const checkCount = (value: number | undefined, argument: string): number => {
  if (value === undefined) return Number.POSITIVE_INFINITY;
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${argument}: must be a non-negative integer`);
  return value;
};

export { checkPosition } from '../positions.ts';
// Shared with the EventStoreDB store: a caller of the port gets the same refusals from either.
export { checkEventsToAppend, checkExpectedRevision, checkFacts, checkId } from '../append-arguments.ts';

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
