import type { FastifyBaseLogger } from 'fastify';
import type { CascadeLog } from '../../projections/cascade/index.ts';
import type { ExpiryDeadLetter } from '../../projections/expiry/index.ts';

export interface DeadLetterWarnings {
  readonly cascadeLog: CascadeLog;
  readonly expiryDeadLetter: (letter: ExpiryDeadLetter) => void;
}

/** What openCredence reports dead letters to: the server's logger, which exists only once the server is built. */
export const deadLetterWarnings = (log: () => FastifyBaseLogger | undefined): DeadLetterWarnings => ({
  // A dead letter is retried by nothing: said at warn, once as it is recorded, so that an operator repairs the
  // stream (credence replay) and redoes the reaction. Names and the refusal only, never an event's data.
  cascadeLog: (entry) => {
    if (entry.outcome !== 'dead-letter') return;
    log()?.warn(
      { eventType: entry.eventType, position: entry.position?.toString(10), command: entry.command, stream: entry.stream, reason: entry.reason },
      `cascade dead letter: ${entry.command} on ${entry.stream ?? entry.target} in reaction to ${entry.eventType ?? 'an event'} was not carried out`,
    );
  },
  // The same for a due deadline whose command id another command holds: the entity is not ended until an operator
  // ends it. Names, instants and the refusal only.
  expiryDeadLetter: (letter) => {
    log()?.warn(
      { stream: letter.stream, purpose: letter.purpose, due: new Date(letter.due).toISOString(), command: letter.command, code: letter.code, reason: letter.reason },
      `expiry dead letter: ${letter.command} on ${letter.stream} was not carried out (${letter.code})`,
    );
  },
});
