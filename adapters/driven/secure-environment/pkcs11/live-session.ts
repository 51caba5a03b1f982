import type { RandomSource } from '../../../../domain/ports/random.ts';
import { HostTransfer } from './host-transfer.ts';
import { RememberedKeys } from './remembered-keys.ts';
import { isSessionLost, type TokenSession } from './token-session.ts';

/**
 * What a PKCS#11 Secure Environment holds that lives and dies with its session (the remembered object handles,
 * the session objects, the host transfer key), and the recovery when the session is lost (docs/hsm.md "When the
 * token goes away"): reopen it once, forget what went with it, run the operation once more.
 */
export class LiveSession {
  readonly token: TokenSession;
  readonly keys = new RememberedKeys();
  readonly #random: RandomSource;
  readonly #host: boolean;
  /** A session object: made again on each new session; undefined while the session is lost. */
  #transfer: HostTransfer | undefined;

  constructor(token: TokenSession, host: boolean, random: RandomSource) {
    this.token = token;
    this.#host = host;
    this.#random = random;
    this.#transfer = this.#newTransfer();
  }

  /**
   * Runs one port operation; when the session turns out lost (an HSM or module restart, a logout, a closed
   * session: token-session.ts), reopens it once and runs the whole operation once more, so keys are found again by
   * CKA_ID and a generated key gets a fresh handle (a half-done first attempt can never be mistaken for it).
   * Bounded: one recovery, one retry; a token still absent is `token_unavailable` naming it. Operations run
   * synchronously (pkcs11js), so one recovery is in flight at a time; an operation that began before a recovery
   * (generation) retries on the session it opened instead of opening another.
   */
  recovering<T>(operation: () => T): T {
    const generation = this.token.generation;
    try {
      return operation();
    } catch (error) {
      if (!isSessionLost(error)) throw error;
    }
    try {
      if (this.token.generation === generation) {
        this.#transfer?.close();
        this.#transfer = undefined;
        this.keys.sessionLost();
        this.token.reopen();
      }
      this.#transfer ??= this.#newTransfer();
      return operation();
    } catch (error) {
      if (isSessionLost(error)) throw this.token.unavailable(error);
      throw error;
    }
  }

  /** The host transfer key of the current session (`x-derivation=host` only). */
  channel(): HostTransfer {
    if (this.#transfer === undefined) throw this.token.lost('the host transfer key went with it');
    return this.#transfer;
  }

  close(): void {
    this.#transfer?.close();
    this.#transfer = undefined;
    this.token.close();
  }

  #newTransfer(): HostTransfer | undefined {
    if (!this.#host) return undefined;
    const token = this.token;
    return token.run(() => new HostTransfer(token.module, token.session, this.#random));
  }
}
