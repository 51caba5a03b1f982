import type { RandomSource } from '../../../../domain/ports/random.ts';
import type { KeyHandle } from '../../../../domain/ports/secure-environment.ts';
import { generationHandle } from './generation-handle.ts';
import { HostTransfer } from './host-transfer.ts';
import { RememberedKeys } from './remembered-keys.ts';
import { isObjectGone, isSessionLost } from './token-errors.ts';
import type { TokenSession } from './token-session.ts';

/** The attempts of one `recovering` operation, and the key it makes from host bytes once drawn. */
interface Making {
  attempts: number;
  key?: { readonly owner: string; readonly handle: () => KeyHandle; attempt: number };
}

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
  /** A session object: made on first use in each session; undefined until then. */
  #transfer: HostTransfer | undefined;
  /** The session generation what is held here belongs to. */
  #generation: number;
  /** The running operation's (`recovering`) attempts and the key it makes from host bytes (`newKeyHandle`). */
  #making: Making | undefined;

  constructor(token: TokenSession, host: boolean, random: RandomSource) {
    this.token = token;
    this.#host = host;
    this.#random = random;
    this.#generation = token.generation;
  }

  /**
   * Runs one port operation; when the session turns out lost (an HSM or module restart, a logout, a closed
   * session: token-session.ts), reopens it once and runs the whole operation once more, so keys are found again by
   * CKA_ID (a key being generated, or made from host bytes, keeps its handle, and what a half-done first attempt left
   * there is shredded first: generation-handle.ts, `newKeyHandle`).
   * Bounded: one recovery, one retry; a token still absent is `token_unavailable` naming it. Operations run
   * synchronously (pkcs11js), so one recovery is in flight at a time; an operation that began before a recovery
   * (generation) retries on the session it opened instead of opening another. A session replaced meanwhile (a
   * re-initialisation of the module for another Secure Environment on it, shared-module.ts) is followed first.
   */
  recovering<T>(operation: () => T): T {
    const outer = this.#making;
    this.#making = { attempts: 0 };
    try {
      return this.#recovering(operation);
    } finally {
      this.#making = outer;
    }
  }

  /**
   * The handle (CKA_ID) of the key the running operation (`recovering`) makes from host bytes (host-keys.ts): drawn
   * at its first attempt, the same at every later one, which first shreds what an earlier attempt left under it for
   * `owner` (generation-handle.ts). The session can be lost after C_UnwrapKey made the object: a new handle per
   * attempt would leave that object, extractable, named by nothing and out of reach of crypto-shredding. A port
   * operation makes at most one key: a second in the same attempt would shred the first, so it is refused.
   */
  newKeyHandle(owner: string, draw: () => KeyHandle): KeyHandle {
    const making = this.#making;
    if (making === undefined) throw new TypeError('newKeyHandle: only inside recovering');
    if (making.key === undefined) {
      making.key = { owner, handle: generationHandle(this.token, this.keys, owner, draw), attempt: making.attempts };
    } else if (making.key.attempt === making.attempts || making.key.owner !== owner) {
      throw new TypeError('newKeyHandle: an operation makes one key, for one owner');
    }
    making.key.attempt = making.attempts;
    return making.key.handle();
  }

  #recovering<T>(operation: () => T): T {
    this.#follow();
    const generation = this.token.generation;
    try {
      return this.#attempt(operation);
    } catch (error) {
      if (!isSessionLost(error)) throw error;
    }
    try {
      if (this.token.generation === generation) this.token.reopen();
      this.#follow();
      return this.#attempt(operation);
    } catch (error) {
      if (isSessionLost(error)) throw this.token.unavailable(error);
      throw error;
    }
  }

  /**
   * `recovering`, for an operation on existing keys. A key object destroyed by another process (the Credence CLI
   * beside the service, say) after it was looked up here fails its call as `object_gone`: every remembered object is
   * forgotten and the operation runs once more, so its lookup finds the key gone (`not_found`) or finds it again,
   * and a planted or altered object is still refused by that lookup (docs/hsm.md). Bounded: one more run.
   */
  usingKeys<T>(operation: () => T): T {
    return this.recovering(() => {
      try {
        return operation();
      } catch (error) {
        if (!isObjectGone(error)) throw error;
      }
      this.keys.forgetObjects();
      return this.#attempt(operation);
    });
  }

  /** The host transfer key of the current session (`x-derivation=host` only), made in it on first use. */
  channel(): HostTransfer {
    if (!this.#host) throw new TypeError('channel: only under x-derivation=host');
    if (this.#transfer === undefined) {
      const token = this.token;
      // Named when the token lacks it (docs/hsm.md lists it), rather than a bare CKR_MECHANISM_INVALID at first use.
      token.mechanism('CKM_AES_KEY_WRAP_PAD');
      this.#transfer = token.run(() => new HostTransfer(token.module, token.session, this.#random));
    }
    return this.#transfer;
  }

  close(): void {
    this.#transfer?.close();
    this.#transfer = undefined;
    this.token.close();
  }

  /** One run of the running operation, counted so that `newKeyHandle` tells a retry from a second key. */
  #attempt<T>(operation: () => T): T {
    if (this.#making !== undefined) this.#making.attempts += 1;
    return operation();
  }

  /**
   * The token's session is not the one what is held here belongs to: forget its object handles and its transfer
   * key, and remember which session objects went with it (refused as lost, not as unknown).
   */
  #follow(): void {
    if (this.#generation === this.token.generation) return;
    this.#generation = this.token.generation;
    this.#transfer?.close();
    this.#transfer = undefined;
    this.keys.sessionLost();
  }
}
