import type { KeyHandle, OwnedSecureEnvironment, OwnerScopedSecureEnvironment, SecureEnvironment } from './secure-environment.ts';

/**
 * `se` as seen by `owner` alone: every method with the owner bound, frozen so it cannot be re-pointed. Works over
 * any implementation of the port (embedded, a future PKCS#11 one); the environment still checks every handle.
 * Wiring code calls `ownerView`; an implementation's own `forOwner` calls this after its checks.
 */
export const bindOwner = (se: SecureEnvironment, owner: string): OwnedSecureEnvironment => {
  if (typeof owner !== 'string' || owner.length === 0) throw new TypeError('owner must be a non-empty string');
  return Object.freeze({
    owner,
    generate: (kind, options) => se.generate(owner, kind, options),
    ...(se.keepInside !== undefined ? { keepInside: (handle: KeyHandle) => se.keepInside!(owner, handle) } : {}),
    describe: (handle) => se.describe(owner, handle),
    sign: (handle, message) => se.sign(owner, handle, message),
    agree: (handle, peerPublicKey) => se.agree(owner, handle, peerPublicKey),
    deriveKey: (spec) => se.deriveKey(owner, spec),
    mac: (handle, message) => se.mac(owner, handle, message),
    ...(se.macMany !== undefined ? { macMany: (handle: KeyHandle, messages: readonly Uint8Array[]) => se.macMany!(owner, handle, messages) } : {}),
    verifyMac: (handle, message, tag) => se.verifyMac(owner, handle, message, tag),
    seal: (handle, plaintext, aad) => se.seal(owner, handle, plaintext, aad),
    open: (handle, sealed, aad) => se.open(owner, handle, sealed, aad),
    wrap: (handle, wrappingKey, aad) => se.wrap(owner, handle, wrappingKey, aad),
    unwrap: (wrappingKey, wrapped, aad, spec) => se.unwrap(owner, wrappingKey, wrapped, aad, spec),
    destroy: (handle) => se.destroy(owner, handle),
    listKeys: (request) => se.listKeys(owner, request),
  } satisfies OwnedSecureEnvironment);
};

const isOwnerScoped = (se: SecureEnvironment): se is OwnerScopedSecureEnvironment =>
  typeof (se as Partial<OwnerScopedSecureEnvironment>).forOwner === 'function';

/**
 * The view a component is given (issue 11 item 9): made once by whoever wires it (the composition root, a device
 * for its own Secure Environment, a test fixture). Uses the implementation's `forOwner` when it has one (which
 * may refuse an owner it does not serve, `unauthorised`), otherwise binds the owner over the plain port.
 */
export const ownerView = (se: SecureEnvironment, owner: string): OwnedSecureEnvironment =>
  isOwnerScoped(se) ? se.forOwner(owner) : bindOwner(se, owner);
