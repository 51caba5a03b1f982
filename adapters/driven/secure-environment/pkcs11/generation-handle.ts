import { isKeyNotFound } from '../../../../domain/errors.ts';
import type { KeyHandle } from '../../../../domain/ports/secure-environment.ts';
import type { RememberedKeys } from './remembered-keys.ts';
import { shred } from './shred.ts';
import type { TokenSession } from './token-session.ts';

/**
 * The handle (CKA_ID) of one `generate`, for each of its attempts. A session can be lost after the token made the
 * key and before the call returned (LiveSession.recovering then runs the generate once more): drawn once, the handle
 * is where anything the first attempt made must be, so the retry shreds `owner`'s objects under it (shred.ts) before
 * making the key again there. A key the token made but no one was told of never stays behind, and the half-done
 * attempt is never taken for the key: it is destroyed, not adopted. Found with nothing under it (the session went
 * before the key was made, or took a session object with it), the retry just makes the key.
 */
export const generationHandle = (token: TokenSession, keys: RememberedKeys, owner: string, draw: () => KeyHandle): (() => KeyHandle) => {
  let handle: KeyHandle | undefined;
  return () => {
    if (handle === undefined) {
      handle = draw();
      return handle;
    }
    try {
      shred(token, keys, owner, handle);
    } catch (error) {
      // Nothing was made (shred confirms first that the session serves, so an empty search is no blind spot).
      if (!isKeyNotFound(error)) throw error;
    }
    return handle;
  };
};
