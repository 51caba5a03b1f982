/**
 * What `startService` rejects with when SIGTERM or SIGINT stopped it before it served (during the first catch-up: a
 * rebuild reads the whole log): everything it opened is closed again, as on a shutdown. A stop asked for, not a
 * failure: the CLI ends with 0 and says it stopped (review 52: the signal took Node's default action, exit 143).
 */
export class StoppedBeforeServing extends Error {
  override readonly name = 'StoppedBeforeServing';

  constructor(readonly signal: NodeJS.Signals) {
    super(`stopped by ${signal} before serving`);
  }
}
