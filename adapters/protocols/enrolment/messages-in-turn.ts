/**
 * One message of a run judged at a time, the others of that run waiting their turn. A run is out of its session table
 * while one of its messages is judged (SessionTable.step), so another arriving meanwhile was `unknown_session`, which
 * ends the sender's run: a junk auth from anyone who saw the challenge, in flight as the device's own came, ended the
 * device's run, where its failed proof alone leaves the run going (failed-proofs.ts; review 297). Waiting, the genuine
 * auth is judged after the junk, against the run as that one left it. No answer is kept (unlike AnsweredRuns, for the
 * receipt and the finish, whose repeats must be answered alike): only the order. Bounded by the messages in flight:
 * one entry per run being judged, gone when its message is.
 */
export class MessagesInTurn {
  /** Per session id, the message of that run being judged, as a promise that never rejects. */
  readonly #inFlight = new Map<string, Promise<void>>();

  async inTurn<T>(sessionId: string, judge: () => Promise<T>): Promise<T> {
    for (let earlier = this.#inFlight.get(sessionId); earlier !== undefined; earlier = this.#inFlight.get(sessionId)) await earlier;
    // No await between the wait and taking the turn: whoever sees the turn free takes it.
    const judged = judge();
    const turn = judged.then(settled, settled);
    this.#inFlight.set(sessionId, turn);
    try {
      return await judged;
    } finally {
      if (this.#inFlight.get(sessionId) === turn) this.#inFlight.delete(sessionId);
    }
  }
}

const settled = (): void => undefined;
