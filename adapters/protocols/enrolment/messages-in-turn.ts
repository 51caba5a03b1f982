/**
 * One message of a run judged at a time, the others of that run waiting their turn. A run is out of its session table
 * while one of its messages is judged (SessionTable.step), so another arriving meanwhile was `unknown_session`, which
 * ends the sender's run: a junk auth from anyone who saw the challenge, in flight as the device's own came, ended the
 * device's run, where its failed proof alone leaves the run going (failed-proofs.ts; review 297). Waiting, the genuine
 * auth is judged after the junk, against the run as that one left it. No answer is kept (unlike AnsweredRuns, for the
 * receipt and the finish, whose repeats must be answered alike): only the order. Each message waits on the one before
 * it alone (a per-session tail), not every waiter woken at each turn's end: N messages at once for one session id,
 * anyone's made-up one, cost ~N²/2 wakeups that way (8,000: 2.4 s; review 304). Bounded by the messages in flight:
 * one entry per session with a message judged or waiting, gone with its last.
 */
export class MessagesInTurn {
  /** Per session id, the last message of that run to be judged, as a promise that settles after it and never rejects. */
  readonly #tails = new Map<string, Promise<void>>();

  /** Sessions with a message judged or waiting; for tests. */
  get sessions(): number {
    return this.#tails.size;
  }

  async inTurn<T>(sessionId: string, judge: () => Promise<T>): Promise<T> {
    const earlier = this.#tails.get(sessionId);
    // The first message of a run is judged at once, no await before it (as it was); a later one once the one before
    // it settled, whatever its outcome, so a refused message never holds up the next.
    const judged = earlier === undefined ? judge() : earlier.then(judge);
    const forget = (): void => {
      if (this.#tails.get(sessionId) === tail) this.#tails.delete(sessionId);
    };
    const tail: Promise<void> = judged.then(forget, forget);
    this.#tails.set(sessionId, tail);
    return judged;
  }
}
