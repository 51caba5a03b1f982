import { ProblemResponse, ServerTimeout, ServerUnreachable, UnexpectedResponse } from '../../../adapters/client/http.ts';

/** What a device run says of a step sent whose answer never said the server refused it. */
export type UnknownOutcomeSaid = {
  /** The whole message of a timeout or of a server not reached, given the cause's own. */
  readonly notAnswered: (causeMessage: string) => string;
  /** The hint a server's problem document carries, given its status. */
  readonly problemHint: (status: number) => string;
  /** What an answer the client could not read adds to its detail. */
  readonly notWhole: string;
  /** Any other cause: a refusal of the step's own rule. */
  readonly otherwise: (cause: unknown) => unknown;
};

/**
 * `cause` said as an unknown outcome in its own kind, so the CLI keeps what it does with that kind: a timeout its
 * --timeout hint and, with a server not reached, exit 3; a problem document its members and Retry-After, what comes next
 * as its `hint`; an unreadable answer its detail. `device provision`'s receipt and `device associate`'s finish say theirs
 * through it (receipt-outcome.ts, finish-outcome.ts).
 */
export const unknownOutcomeInKind = (cause: unknown, said: UnknownOutcomeSaid): unknown => {
  if (cause instanceof ServerTimeout) {
    // A timeout's message is fixed by its constructor.
    const timeout = new ServerTimeout(cause.url, cause.timeoutMs);
    timeout.message = said.notAnswered(cause.message);
    return timeout;
  }
  // Made from its cause, so what the cause says of a request never sent (`unsent`) stays said.
  if (cause instanceof ServerUnreachable) return new ServerUnreachable(cause.url, cause, said.notAnswered(cause.message));
  if (cause instanceof ProblemResponse) return new ProblemResponse(cause.status, { ...cause.problem, hint: said.problemHint(cause.status) }, cause.retryAfterMs);
  if (cause instanceof UnexpectedResponse) return new UnexpectedResponse(cause.what, `${cause.detail}; ${said.notWhole}`);
  return said.otherwise(cause);
};
