import { toBase64url } from '../../../domain/crypto/base64url.ts';
import type { RandomSource } from '../../../domain/ports/random.ts';
import { protocolFailure } from '../../../domain/protocols/protocol.ts';

export interface SessionBase {
  readonly id: string;
  stage: string;
  /** Set by the last step: the session is dropped (and cleaned up) instead of kept for the next message. */
  done?: boolean;
}

const DEFAULT_MAX_SESSIONS = 10_000;

interface Entry<S> {
  readonly session: S;
  readonly expiresAtMs: number;
}

/**
 * In-flight protocol runs on the responder side. A session is taken out of the table while a message is being
 * handled, so a duplicate of that message arriving meanwhile finds no session; a refused message ends the run,
 * and `cleanup` destroys whatever keys it made. Sessions expire after `timeoutSeconds`.
 */
export class SessionTable<S extends SessionBase> {
  readonly #entries = new Map<string, Entry<S>>();
  readonly #timeoutMs: number;
  readonly #maxSessions: number;
  readonly #cleanup: (session: S) => Promise<void>;

  constructor(options: { timeoutSeconds: number; maxSessions?: number | undefined; cleanup: (session: S) => Promise<void> }) {
    const maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    if (!(options.timeoutSeconds > 0)) throw new RangeError('timeoutSeconds must be positive');
    if (!(Number.isInteger(maxSessions) && maxSessions > 0)) throw new RangeError('maxSessions must be a positive integer');
    this.#timeoutMs = options.timeoutSeconds * 1000;
    this.#maxSessions = maxSessions;
    this.#cleanup = options.cleanup;
  }

  newId(random: RandomSource): string {
    return toBase64url(random(16));
  }

  expiry(now: Date): string {
    return new Date(now.getTime() + this.#timeoutMs).toISOString();
  }

  async add(step: string, now: Date, session: S): Promise<void> {
    for (const [id, entry] of this.#entries) {
      if (entry.expiresAtMs > now.getTime()) break;
      this.#entries.delete(id);
      await this.#cleanup(entry.session);
    }
    if (this.#entries.size >= this.#maxSessions) {
      await this.#cleanup(session);
      throw protocolFailure(step, 'too_many_sessions');
    }
    this.#entries.set(session.id, { session, expiresAtMs: now.getTime() + this.#timeoutMs });
  }

  /** Runs one step of session `id`, which must be at `stage`; any failure ends the session. */
  async step<T>(id: string, step: string, stage: S['stage'], now: Date, handle: (session: S) => Promise<T>): Promise<T> {
    const entry = this.#entries.get(id);
    if (!entry) throw protocolFailure(step, 'unknown_session');
    this.#entries.delete(id);
    const { session } = entry;
    try {
      if (entry.expiresAtMs <= now.getTime()) throw protocolFailure(step, 'stale', 'the session expired');
      if (session.stage !== stage) throw protocolFailure(step, 'unknown_session', `session is not awaiting ${step}`);
      const result = await handle(session);
      if (session.done) await this.#cleanup(session);
      else this.#entries.set(id, entry);
      return result;
    } catch (error) {
      await this.#cleanup(session);
      throw error;
    }
  }

  get size(): number {
    return this.#entries.size;
  }
}
