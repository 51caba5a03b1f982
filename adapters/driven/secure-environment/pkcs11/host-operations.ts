import { aeadOpen, aeadSeal } from '../../../../domain/crypto/aead.ts';
import { assertBytes, concatBytes, wipe } from '../../../../domain/crypto/bytes.ts';
import { hkdfSha256 } from '../../../../domain/crypto/hash.ts';
import type { RandomSource } from '../../../../domain/ports/random.ts';
import type { DeriveKeySpec, KeyHandle, UnwrapSpec } from '../../../../domain/ports/secure-environment.ts';
import { checkDeriveSpec, KEY_LENGTH, requireKind, sealAad, usageFor, wrapAad } from '../port-checks.ts';
import type { HostKeys } from './host-keys.ts';
import { AEAD, HKDF, HOST_ONLY } from './host-transfer.ts';
import { pkcs11Problem } from './module.ts';
import type { TokenKey } from './token-objects.ts';

/**
 * What the PKCS#11 Secure Environment gives the operations with no mechanism in the token (HKDF and
 * XChaCha20-Poly1305: derive, seal, open, wrap, unwrap). They run in host memory under `x-derivation=host`, over
 * the symmetric keys only, and are refused (`mechanism_unsupported`) without it (host-keys.ts).
 */
export interface HostOperations {
  readonly host: HostKeys;
  readonly random: RandomSource;
  readonly derivation: 'token' | 'host';
  /** The key `owner` holds under `handle`, the owner checked as served first. */
  readonly key: (owner: string, handle: KeyHandle) => TokenKey;
}

export const deriveInHost = (on: HostOperations, owner: string, spec: DeriveKeySpec): KeyHandle => {
  checkDeriveSpec(spec);
  const keys = spec.inputs.map((handle) => on.key(owner, handle));
  keys.forEach((k) => requireKind(k.label, 'be derived from', ['secret', 'psk256', 'session256'] as const));
  if (on.derivation !== 'host') throw HOST_ONLY(HKDF);
  const parts: Uint8Array[] = [];
  let ikm: Uint8Array | undefined;
  try {
    for (const k of keys) parts.push(on.host.bytes(k, HKDF));
    ikm = concatBytes(...parts);
    return on.host.import(owner, spec.kind, hkdfSha256(ikm, spec.salt, spec.info, KEY_LENGTH), { ...spec, extractable: false });
  } finally {
    // Every part exported so far, a later input's refusal included.
    wipe(ikm, ...parts);
  }
};

export const sealInHost = (on: HostOperations, owner: string, handle: KeyHandle, plaintext: Uint8Array, aad: Uint8Array): Uint8Array => {
  const key = on.key(owner, handle);
  requireKind(key.label, 'seal', ['session256'] as const);
  const bound = sealAad(assertBytes(aad, 'aad'));
  return on.host.withBytes(key, AEAD, (bytes) => aeadSeal(bytes, plaintext, bound, on.random));
};

export const openInHost = (on: HostOperations, owner: string, handle: KeyHandle, sealed: Uint8Array, aad: Uint8Array): Uint8Array | undefined => {
  const key = on.key(owner, handle);
  requireKind(key.label, 'open', ['session256'] as const);
  const bound = sealAad(assertBytes(aad, 'aad'));
  return on.host.withBytes(key, AEAD, (bytes) => aeadOpen(bytes, sealed, bound));
};

export const wrapInHost = (on: HostOperations, owner: string, handle: KeyHandle, wrappingKey: KeyHandle, aad: Uint8Array): Uint8Array => {
  assertBytes(aad, 'aad');
  const target = on.key(owner, handle);
  const kek = on.key(owner, wrappingKey);
  requireKind(kek.label, 'wrap other keys', ['session256'] as const);
  if (!target.label.extractable || target.label.kind === 'secret') throw new TypeError('handle: key is not extractable');
  const bound = wrapAad(target.label.kind, aad);
  return on.host.withBytes(target, AEAD, (bytes) => on.host.withBytes(kek, AEAD, (key) => aeadSeal(key, bytes, bound, on.random)));
};

export const unwrapInHost = (on: HostOperations, owner: string, wrappingKey: KeyHandle, wrapped: Uint8Array, aad: Uint8Array, spec: UnwrapSpec): KeyHandle | undefined => {
  assertBytes(wrapped, 'wrapped');
  assertBytes(aad, 'aad');
  usageFor(spec.kind, spec);
  const kek = on.key(owner, wrappingKey);
  requireKind(kek.label, 'unwrap other keys', ['session256'] as const);
  if (spec.kind === 'ed25519' || spec.kind === 'p256') {
    throw pkcs11Problem('spec.kind', 'private_key_import', `a ${spec.kind} private key is only ever generated inside the token, never imported from host memory`);
  }
  const bytes = on.host.withBytes(kek, AEAD, (key) => aeadOpen(key, wrapped, wrapAad(spec.kind, aad)));
  if (bytes === undefined) return undefined;
  if (bytes.length !== KEY_LENGTH) {
    wipe(bytes);
    return undefined;
  }
  return on.host.import(owner, spec.kind, bytes, spec);
};
