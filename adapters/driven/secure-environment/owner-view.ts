import type { OwnedSecureEnvironment, SecureEnvironment } from '../../../domain/ports/secure-environment.ts';

/**
 * `se` as seen by `owner` alone: every method with the owner bound, frozen so it cannot be re-pointed. Whoever
 * holds the view acts as that owner and no other (issue 11 item 9); the environment still checks every handle.
 */
export const ownerView = (se: SecureEnvironment, owner: string): OwnedSecureEnvironment =>
  Object.freeze({
    owner,
    generate: (kind, options) => se.generate(owner, kind, options),
    describe: (handle) => se.describe(owner, handle),
    sign: (handle, message) => se.sign(owner, handle, message),
    agree: (handle, peerPublicKey) => se.agree(owner, handle, peerPublicKey),
    deriveKey: (spec) => se.deriveKey(owner, spec),
    mac: (handle, message) => se.mac(owner, handle, message),
    verifyMac: (handle, message, tag) => se.verifyMac(owner, handle, message, tag),
    seal: (handle, plaintext, aad) => se.seal(owner, handle, plaintext, aad),
    open: (handle, sealed, aad) => se.open(owner, handle, sealed, aad),
    wrap: (handle, wrappingKey, aad) => se.wrap(owner, handle, wrappingKey, aad),
    unwrap: (wrappingKey, wrapped, aad, spec) => se.unwrap(owner, wrappingKey, wrapped, aad, spec),
    destroy: (handle) => se.destroy(owner, handle),
  } satisfies OwnedSecureEnvironment);
