import type { KeyHandle } from '../../../../domain/ports/secure-environment.ts';
import type { Pkcs11Handle } from './module.ts';
import type { TokenKey } from './token-objects.ts';

/** Bound on each set below (oldest forgotten first): forgetting costs a search, or a plainer not_found, never correctness. */
export const MAX_REMEMBERED_KEYS = 10_000;

const bounded = <T>(collection: Map<T, unknown> | Set<T>): void => {
  if (collection.size >= MAX_REMEMBERED_KEYS) collection.delete(collection.keys().next().value as T);
};

const pairOf = (key: Pkcs11Handle, publicKey: Pkcs11Handle): string => `${key.toString('hex')}/${publicKey.toString('hex')}`;

/**
 * The object handles of the keys used in the current session (C_FindObjects walks every object of the token, a
 * remembered one is re-checked with one C_GetAttributeValue), and the handles of session objects (ephemeral keys,
 * ECDH secrets) that a lost session took with it, so that using one later is `not_found` with that cause (key-lookup.ts).
 */
export class RememberedKeys {
  readonly #known = new Map<KeyHandle, TokenKey>();
  readonly #lost = new Set<KeyHandle>();
  /** Pairs of object handles (private, public) proven one key pair in this session (pair-proof.ts). */
  readonly #proven = new Set<string>();

  get(handle: KeyHandle): TokenKey | undefined {
    return this.#known.get(handle);
  }

  remember(key: TokenKey): KeyHandle {
    bounded(this.#known);
    this.#known.set(key.handle, key);
    return key.handle;
  }

  forget(handle: KeyHandle): void {
    this.#known.delete(handle);
  }

  /** Every object handle, the session kept: one of them named an object destroyed meanwhile, found again by CKA_ID. */
  forgetObjects(): void {
    this.#known.clear();
    // A token may give a destroyed object's number to a new one: what was proven of the old numbers is proven again.
    this.#proven.clear();
  }

  wasProven(key: Pkcs11Handle, publicKey: Pkcs11Handle): boolean {
    return this.#proven.has(pairOf(key, publicKey));
  }

  proven(key: Pkcs11Handle, publicKey: Pkcs11Handle): void {
    bounded(this.#proven);
    this.#proven.add(pairOf(key, publicKey));
  }

  wasLost(handle: KeyHandle): boolean {
    return this.#lost.has(handle);
  }

  /**
   * The session is gone: its session objects with it, and every object handle (numbers belong to a module
   * instance: after a restart the same number may name another object, or none). Token keys are found again by CKA_ID.
   */
  sessionLost(): void {
    for (const key of this.#known.values()) {
      if (!key.ephemeral) continue;
      bounded(this.#lost);
      this.#lost.add(key.handle);
    }
    this.#known.clear();
    this.#proven.clear();
  }
}
