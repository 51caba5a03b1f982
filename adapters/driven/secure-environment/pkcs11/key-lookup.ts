import { keyNotFound } from '../../../../domain/errors.ts';
import type { KeyHandle } from '../../../../domain/ports/secure-environment.ts';
import { requireHandle, requireHeldBy } from '../port-checks.ts';
import { findTokenKey } from './objects-under-id.ts';
import { provePair } from './pair-proof.ts';
import type { RememberedKeys } from './remembered-keys.ts';
import type { TokenSession } from './token-session.ts';
import type { TokenKey } from './token-objects.ts';

/** Finds a key's objects in the token by its handle (CKA_ID), for the owner that holds it. */
export class KeyLookup {
  readonly #token: TokenSession;
  readonly #keys: RememberedKeys;

  constructor(token: TokenSession, keys: RememberedKeys) {
    this.#token = token;
    this.#keys = keys;
  }

  /**
   * The key `handle` of `owner` (whom the caller has checked it serves): not found when the token does not hold it,
   * refused when another owner does. An ephemeral key of a lost session is gone as surely as a destroyed one, and
   * answered alike, `not_found` (review 187: a `validation` `session_object_lost`, it was never taken for gone, so a
   * decoy's stand-in PSK was never made again, and a device was answered 400 with the handle and the token's label);
   * why it is gone is the error's `cause`, for the service's log.
   */
  heldBy(owner: string, handle: KeyHandle): TokenKey {
    requireHandle(handle);
    const key = this.#find(handle);
    if (!key) {
      if (this.#keys.wasLost(handle)) throw lostWithItsSession(handle, this.#token.label);
      // SoftHSM2 answers a search on a deleted token, or a logged-out session, with no objects rather than an error.
      this.#token.confirmServing();
      throw keyNotFound(handle);
    }
    requireHeldBy(owner, handle, key.label.owner);
    return key;
  }

  /**
   * The key's objects, remembered between calls: C_FindObjects walks every object of the token (SoftHSM2 checks
   * each object file), while one C_GetAttributeValue on a remembered object confirms it is still this key. Labels
   * are unmodifiable, so a remembered label cannot have changed; a destroyed object (here or by another process)
   * fails the check and is looked up afresh. A pair found afresh is proven one (pair-proof.ts) before it is
   * remembered: its calls run on their own, outside the lookup's `run`.
   */
  #find(handle: KeyHandle): TokenKey | undefined {
    const known = this.#keys.get(handle);
    if (known !== undefined && this.#token.run(() => this.#token.stillHolds(known.key, handle))) return known;
    this.#keys.forget(handle);
    const found = this.#token.run(() => findTokenKey(this.#token.module, this.#token.session, handle));
    if (found === undefined) return undefined;
    provePair(this.#token, this.#keys, found);
    this.#keys.remember(found);
    return found;
  }
}

/**
 * `not_found` for `handle`, a session object (an ephemeral key or an ECDH secret) that a lost session took with it:
 * what callers test for a gone key (isKeyNotFound), the token and the loss named in its cause.
 */
const lostWithItsSession = (handle: KeyHandle, label: string): Error => {
  const gone = keyNotFound(handle);
  const why = `key ${handle} was a session object (an ephemeral key or an ECDH secret) of a session with token "${label}" that was lost (a restart of the token or its module): make it again`;
  // Not enumerable, as protocol.ts `concealing` keeps a cause: the log reads it (pino's messageWithCauses), no answer copies it.
  Object.defineProperty(gone, 'cause', { value: new Error(why), enumerable: false, writable: true, configurable: true });
  return gone;
};
