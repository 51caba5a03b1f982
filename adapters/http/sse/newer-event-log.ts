import type { FastifyBaseLogger } from 'fastify';
import type { NewerEventError } from '../../../projections/streams/index.ts';

/** Events logged one by one; past them, a count. A downgrade leaves a handful: the streams end at the first. */
const REMEMBERED = 1_000;
const COUNTED_EVERY_MS = 60_000;

/**
 * The warn line for a stream that ended before an event a newer version wrote (./session.ts), bounded as
 * ./passed-over.ts bounds its lines: every stream reaching the event ends there, and so does every reconnect until
 * the server is upgraded (the console's, at the frame's retry), so a line each was one per stream per few minutes for
 * good (review 86). Each event is logged once per process (keyed by stream, revision and position: a process may
 * serve more than one store in tests and the library); past REMEMBERED of them, a count at most once a COUNTED_EVERY_MS.
 * Where it is and why, never its data. `now` is the clock the count lines are spaced by.
 */
export const newerEventLog = (now: () => number = Date.now, remembered = REMEMBERED) => {
  const logged = new Set<string>();
  let counted = 0;
  let first: bigint | undefined;
  let last: bigint | undefined;
  let countedAt = Number.NEGATIVE_INFINITY;
  return (log: FastifyBaseLogger, error: NewerEventError): void => {
    const { position, streamId, revision, type, reason } = error;
    const key = `${position}:${streamId}:${revision}`;
    if (logged.has(key)) return;
    if (logged.size < remembered) {
      logged.add(key);
      // The operator has downgraded, or someone wrote the data folder.
      log.warn(
        { position: String(position), streamId, revision: String(revision), type, reason },
        'event stream ended before an event a newer version wrote, which this version cannot read',
      );
      return;
    }
    counted += 1;
    first ??= position;
    last = position;
    const at = now();
    if (at - countedAt < COUNTED_EVERY_MS) return;
    log.warn(
      { endedBefore: counted, firstPosition: String(first), lastPosition: String(last), logged: remembered },
      'event streams ended before events a newer version wrote, not logged one by one',
    );
    counted = 0;
    first = undefined;
    last = undefined;
    countedAt = at;
  };
};

/** The process's: what the service's streams log through. */
export const logNewerEvent = newerEventLog();
