import { keyNotFound } from '../../../../domain/errors.ts';
import type { KeyHandle } from '../../../../domain/ports/secure-environment.ts';
import { requireHandle, requireHeldBy } from '../port-checks.ts';
import { pkcs11Problem } from './module.ts';
import { findTokenKey } from './objects-under-id.ts';
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
   * The key `handle` of `owner` (whom the caller has checked it serves): `session_object_lost` for an ephemeral key
   * of a lost session, not found when the token does not hold it, refused when another owner does.
   */
  heldBy(owner: string, handle: KeyHandle): TokenKey {
    requireHandle(handle);
    const key = this.#token.run(() => this.#find(handle));
    if (!key) {
      if (this.#keys.wasLost(handle)) {
        throw pkcs11Problem(
          'handle',
          'session_object_lost',
          `key ${handle} was a session object (an ephemeral key or an ECDH secret) of a session with token "${this.#token.label}" that was lost (a restart of the token or its module): make it again`,
        );
      }
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
   * fails the check and is looked up afresh.
   */
  #find(handle: KeyHandle): TokenKey | undefined {
    const known = this.#keys.get(handle);
    if (known !== undefined && this.#token.stillHolds(known.key, handle)) return known;
    this.#keys.forget(handle);
    const found = findTokenKey(this.#token.module, this.#token.session, handle);
    if (found !== undefined) this.#keys.remember(found);
    return found;
  }
}
