import { sha256, toHex, utf8 } from '../../../domain/crypto/index.ts';
import { protocolFailure } from '../../../domain/protocols/protocol.ts';
import type { RunWatch } from '../shared/failed-proofs.ts';

/**
 * One answer kept per run ended, each until its run's timeout: as many as SessionTable's default `maxSessions`, and not
 * `limits.maxPendingDeviceSessions` (which bounds the runs in flight): ended runs are kept for their repeats only.
 */
export const MAX_ANSWERED_RUNS = 10_000;

type Settled<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

interface Answered<T> {
  /** SHA-256 of the message as it came (its JSON): only the same message is given the run's answer. */
  readonly digest: string;
  readonly expiresAtMs: number;
  /** Never rejects: a refusal is kept as the value it is, and thrown to each repeat. */
  readonly answer: Promise<Settled<T>>;
  settled: boolean;
}

/**
 * The answers of the runs a last message ended with a record (a provisioning receipt, an association finish), by session id, so
 * that a repeat of that message gets the run's answer, the same status and body, not `unknown_session` (review 238: a
 * copy of a device's receipt that got in first, from an intermediary resending a POST or anyone replaying it, had the
 * credential recorded, and the device's own receipt was then refused `unknown_session`, which it took for nothing
 * recorded: it destroyed the key of a credential the server held; so too an association finish). A repeat that
 * arrives while the first is still being answered waits for its answer. Only the same message, byte for byte as JSON,
 * is answered so: anything else for that session is `unknown_session`, as before. A message refused before its proof
 * (SessionTable.step's `admit`) or whose failed proof leaves the run going (`RunWatch.kept`) ends nothing and is not
 * kept; another message of the run waits for such a one's answer, then goes to the run.
 *
 * Bounded as the runs are: an answer is kept until the run's timeout would have passed (a run's messages are not
 * taken after it), at most `maxRuns` of them, the oldest forgotten first. Nothing in it is secret (the answers are
 * what the device was sent), and nothing of it outlives the process, as the runs do not.
 */
export class AnsweredRuns<T> {
  readonly #answers = new Map<string, Answered<T>>();
  readonly #now: () => Date;
  readonly #maxRuns: number;

  constructor(now: () => Date, maxRuns = MAX_ANSWERED_RUNS) {
    if (!(Number.isInteger(maxRuns) && maxRuns > 0)) throw new RangeError('maxRuns must be a positive integer');
    this.#now = now;
    this.#maxRuns = maxRuns;
  }

  /**
   * The answer to `message` of the run of `sessionId` at `step`: the run's, kept, for a repeat of the message that
   * ended it; else what `answer` gives, told by `RunWatch` whether the message ends the run.
   */
  async answer(step: string, sessionId: string, message: unknown, answer: (watch: RunWatch) => Promise<T>): Promise<T> {
    const digest = toHex(sha256(utf8(JSON.stringify(message) ?? '')));
    for (let earlier = this.#live(sessionId); earlier !== undefined; earlier = this.#live(sessionId)) {
      if (earlier.digest === digest) return answerOf(await earlier.answer);
      if (earlier.settled) throw protocolFailure(step, 'unknown_session');
      // Another message of the run is being answered: if it leaves the run going, this one goes to the run.
      await earlier.answer;
    }
    let settle!: (settled: Settled<T>) => void;
    const settledAnswer = new Promise<Settled<T>>((resolve) => (settle = resolve));
    let kept: Answered<T> | undefined;
    const watch: RunWatch = {
      admitted: (expiresAtMs) => {
        kept = { digest, expiresAtMs, answer: settledAnswer, settled: false };
        this.#keep(sessionId, kept);
      },
      kept: () => {
        if (kept !== undefined && this.#answers.get(sessionId) === kept) this.#answers.delete(sessionId);
      },
    };
    let settled: Settled<T>;
    try {
      settled = { ok: true, value: await answer(watch) };
    } catch (error) {
      settled = { ok: false, error };
    }
    if (kept !== undefined) {
      kept.settled = true;
      // Only a run that recorded something is answered again so (review 244): a refusal that ended it, a transient
      // 503 (the store failing) above all, would be given to every retry until the timeout, and a stranger's decoy run
      // ended by its third junk proof would take a place a genuine answer needs. Either way the device, told
      // unknown_session, keeps its key and settles the outcome, and nothing was recorded to settle.
      if (!settled.ok && this.#answers.get(sessionId) === kept) this.#answers.delete(sessionId);
    }
    settle(settled);
    return answerOf(settled);
  }

  /** The kept answer of `sessionId`'s run while its timeout has not passed; the expired ones forgotten. */
  #live(sessionId: string): Answered<T> | undefined {
    const now = this.#now().getTime();
    // Kept in the order their runs' last messages came, which is near the order their timeouts pass: the sweep stops
    // at the first live one, and the one asked for is checked on its own.
    for (const [id, kept] of this.#answers) {
      if (kept.expiresAtMs > now) break;
      this.#answers.delete(id);
    }
    const kept = this.#answers.get(sessionId);
    if (kept === undefined || kept.expiresAtMs > now) return kept;
    this.#answers.delete(sessionId);
    return undefined;
  }

  #keep(sessionId: string, kept: Answered<T>): void {
    this.#answers.delete(sessionId);
    while (this.#answers.size >= this.#maxRuns) this.#answers.delete(this.#answers.keys().next().value as string);
    this.#answers.set(sessionId, kept);
  }
}

const answerOf = <T>(settled: Settled<T>): T => {
  if (settled.ok) return settled.value;
  throw settled.error;
};
