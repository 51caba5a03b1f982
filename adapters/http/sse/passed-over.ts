import type { FastifyBaseLogger } from 'fastify';
import type { EventStore } from '../../../domain/ports/event-store.ts';
import type { PassedOver } from '../../../projections/streams/index.ts';

/**
 * What the service remembers of a store's passed-over events: every stream that reads past such an event, and every
 * reconnect, passes over it again, and an operator needs one line for it, not one per reader. The first REMEMBERED
 * positions are logged one by one and kept; past them, nothing is forgotten to make room (forgetting the oldest
 * logged every one of them again at each stream's catch-up: 3 passes over 10,001 gave 30,003 lines, review 85): the
 * rest are counted, one line at the first and then at most one a COUNTED_EVERY_MS, whoever passes them.
 */
interface Memory {
  readonly positions: Set<bigint>;
  /** Passes not logged one by one since the last count line; its first and last positions. */
  counted: number;
  first: bigint | undefined;
  last: bigint | undefined;
  countedAt: number;
}

const memories = new WeakMap<EventStore, Memory>();
const REMEMBERED = 10_000;
const COUNTED_EVERY_MS = 60_000;

/**
 * What the event streams do with a stored event they pass over (projections/pseudonyms/public-events.ts
 * `lifecycleFact`): log it at warn, once per event, with where it is and why (the reason may name the entity it is
 * addressed to, as replay's finding does), or count it past the memory. Never its data or metadata: the log is no
 * copy of the event store. `now` is the clock the count lines are spaced by.
 */
export const logPassedOver =
  (store: EventStore, log: FastifyBaseLogger, now: () => number = Date.now) =>
  (passed: PassedOver): void => {
    let memory = memories.get(store);
    if (memory === undefined) {
      memory = { positions: new Set(), counted: 0, first: undefined, last: undefined, countedAt: Number.NEGATIVE_INFINITY };
      memories.set(store, memory);
    }
    if (memory.positions.has(passed.position)) return;
    if (memory.positions.size < REMEMBERED) {
      memory.positions.add(passed.position);
      log.warn(
        {
          position: String(passed.position),
          streamId: passed.streamId,
          revision: String(passed.revision),
          type: passed.type,
          reason: passed.reason,
          misplaced: passed.misplaced,
        },
        'event stream passed over an event it cannot read',
      );
      return;
    }
    memory.counted += 1;
    memory.first ??= passed.position;
    memory.last = passed.position;
    const at = now();
    if (at - memory.countedAt < COUNTED_EVERY_MS) return;
    log.warn(
      {
        passedOver: memory.counted,
        firstPosition: String(memory.first),
        lastPosition: String(memory.last),
        logged: REMEMBERED,
        advice: 'credence replay lists every event no reader can read',
      },
      'event streams passed over events they cannot read, not logged one by one',
    );
    memory.counted = 0;
    memory.first = undefined;
    memory.last = undefined;
    memory.countedAt = at;
  };
