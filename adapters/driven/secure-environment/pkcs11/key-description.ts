import { agreementPublicKey } from '../../../../domain/crypto/agreement.ts';
import { utf8 } from '../../../../domain/crypto/bytes.ts';
import { publicKeyFingerprint } from '../../../../domain/crypto/fingerprint.ts';
import type { KeyDescription, KeyHandle } from '../../../../domain/ports/secure-environment.ts';
import type { HostKeys } from './host-keys.ts';
import { X25519 } from './host-transfer.ts';
import { publicHalfMissing } from './objects-under-id.ts';
import type { TokenSession } from './token-session.ts';
import { ecPoint, type TokenKey } from './token-objects.ts';

const SECRET_FINGERPRINT_LABEL = utf8('credence/v1/secret-key-fingerprint');

/** `describe` of a key the token holds: its public key read from the token, or its fingerprint computed there. */
export const describeTokenKey = (token: TokenSession, host: HostKeys, key: TokenKey, handle: KeyHandle): KeyDescription => {
  const publicKey = publicKeyOf(token, host, key);
  const { kind } = key.label;
  return {
    handle,
    kind,
    fingerprint: fingerprintOf(token, key, publicKey),
    ...(publicKey ? { publicKey } : {}),
    ...(key.label.usage ? { usage: key.label.usage } : {}),
    ephemeral: key.ephemeral,
    extractable: key.label.extractable,
  };
};

const publicKeyOf = (token: TokenSession, host: HostKeys, key: TokenKey): Uint8Array | undefined => {
  if (key.label.kind === 'x25519') return host.withBytes(key, X25519, (scalar) => agreementPublicKey('x25519', scalar));
  const { kind } = key.label;
  if (key.publicKey === undefined || (kind !== 'ed25519' && kind !== 'p256')) return undefined;
  const publicKey = key.publicKey;
  return token.run(() => ecPoint(token.module, token.session, publicKey, kind));
};

/** A key pair's fingerprint is its public key's, never the secret one (an HMAC the token refuses on an EC key). */
const fingerprintOf = (token: TokenSession, key: TokenKey, publicKey: Uint8Array | undefined): string => {
  const { kind } = key.label;
  if (kind !== 'ed25519' && kind !== 'p256' && kind !== 'x25519') return secretFingerprint(token, key);
  if (publicKey === undefined) throw publicHalfMissing(key.handle, kind);
  return publicKeyFingerprint(kind, publicKey);
};

/** The port's secret fingerprint, HMAC-SHA256 keyed by the secret (fingerprint.ts), computed in the token. */
const secretFingerprint = (token: TokenSession, key: TokenKey): string =>
  `sha256:${Buffer.from(token.sign('CKM_SHA256_HMAC', key.key, SECRET_FINGERPRINT_LABEL, 32)).toString('hex')}`;
