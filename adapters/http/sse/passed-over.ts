import type { FastifyBaseLogger } from 'fastify';
import type { EventStore } from '../../../domain/ports/event-store.ts';
import type { PassedOver } from '../../../projections/streams/index.ts';

/**
 * Positions already logged, per store, the oldest forgotten first past the bound: every stream that reads past an
 * event it cannot read, and every reconnect, passes over it again, and an operator needs one line for it, not one per
 * reader (a log with more such events than the bound is logged again as streams pass them).
 */
const logged = new WeakMap<EventStore, Set<bigint>>();
const REMEMBERED = 10_000;

/**
 * What the event streams do with a stored event they pass over (projections/pseudonyms/public-events.ts
 * `lifecycleFact`): log it at warn, once per event, with where it is and why (the reason may name the entity it is
 * addressed to, as replay's finding does). Never its data or metadata: the log is no copy of the event store.
 */
export const logPassedOver =
  (store: EventStore, log: FastifyBaseLogger) =>
  (passed: PassedOver): void => {
    let positions = logged.get(store);
    if (positions === undefined) logged.set(store, (positions = new Set()));
    if (positions.has(passed.position)) return;
    if (positions.size >= REMEMBERED) positions.delete(positions.values().next().value!);
    positions.add(passed.position);
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
  };
