import { keyNotFound } from '../../../../domain/errors.ts';
import type { KeyHandle } from '../../../../domain/ports/secure-environment.ts';
import { requireHeldBy } from '../port-checks.ts';
import { countUnderId, integrity, objectsUnderId, ownedUnderId } from './objects-under-id.ts';
import type { RememberedKeys } from './remembered-keys.ts';
import type { TokenSession } from './token-session.ts';

/**
 * Crypto-shredding of `owner`'s key `handle`: C_DestroyObject on every object under its CKA_ID that is Credence's
 * and `owner`'s, whatever else is there. A lookup refuses a handle with a planted object under it
 * (token_integrity), but a destroy must not: a revoked key left usable because someone added an object next to it
 * is the outcome shredding exists to prevent. So the owner's objects are found by their labels (ownedUnderId), not
 * among every object under the CKA_ID, which a lookup bounds (review 162: more than that many planted kept the key).
 * Objects that are not ours are left in the token (they may be someone's evidence, and are not Credence's to
 * destroy) and reported, counted once ours are gone, as `token_integrity`; a destroy called again reports them until
 * they are removed, then answers `not_found` (docs/hsm.md).
 */
export const shred = (token: TokenSession, keys: RememberedKeys, owner: string, handle: KeyHandle): void => {
  keys.forget(handle);
  // Searched afresh, never from a remembered object: every object of the owner's, not the one a lookup kept.
  const owned = token.run(() => ownedUnderId(token.module, token.session, handle, owner));
  if (owned.length === 0) nothingOwned(token, keys, owner, handle);
  // The key object before its public half: a lookup meanwhile (another process) finds no key, not half a pair.
  const keyObjects = owned.filter((object) => !object.isPublic);
  const destroyed = token.destroy([...keyObjects, ...owned.filter((object) => object.isPublic)].map((object) => object.object));
  const left = token.run(() => countUnderId(token.module, token.session, handle));
  if (left > 0) {
    throw integrity(handle, `its ${destroyed} object(s) were destroyed, but ${left} object(s) not made by Credence for its owner have its CKA_ID and were left in the token: remove them`);
  }
  if (keyObjects.length > 1 || owned.length - keyObjects.length > 1) throw integrity(handle, `more than one key or public key object had its CKA_ID; all ${destroyed} destroyed`);
  // Every one destroyed meanwhile by another process (the Credence CLI, say): gone before this call could.
  if (destroyed === 0) throw keyNotFound(handle);
};

/** None of `owner`'s objects is under the CKA_ID: another owner's key, planted objects left by an earlier destroy, or gone. */
const nothingOwned = (token: TokenSession, keys: RememberedKeys, owner: string, handle: KeyHandle): never => {
  const { ours, others } = token.run(() => objectsUnderId(token.module, token.session, handle));
  const [someoneElses] = ours;
  if (someoneElses !== undefined) requireHeldBy(owner, handle, someoneElses.label.owner);
  if (others.length > 0) throw integrity(handle, `none of its objects is left, but ${others.length} object(s) not made by Credence have its CKA_ID and were left in the token: remove them`);
  // A session object lost with its session is already gone, the goal of destroy: not_found, as for any gone key.
  // SoftHSM2 answers a search on a deleted token, or a logged-out session, with no objects rather than an error.
  if (!keys.wasLost(handle)) token.confirmServing();
  throw keyNotFound(handle);
};
