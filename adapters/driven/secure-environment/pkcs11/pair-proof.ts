import { agreementPublicKey, sharedSecret } from '../../../../domain/crypto/agreement.ts';
import { constantTimeEqual, utf8, wipe } from '../../../../domain/crypto/bytes.ts';
import { hmacSha256, sha256 } from '../../../../domain/crypto/hash.ts';
import { verifySignature } from '../../../../domain/crypto/signatures.ts';
import { deriveEcdh } from './key-generation.ts';
import { lowS } from './key-rules.ts';
import { pkcs11js, type Pkcs11Handle } from './module.ts';
import { integrity } from './objects-under-id.ts';
import type { RememberedKeys } from './remembered-keys.ts';
import { ecPoint, type TokenKey } from './token-objects.ts';
import type { TokenSession } from './token-session.ts';

/*
 * Review 299: the attributes objects-under-id.ts checks say who made each object, not that the public object under a
 * key's CKA_ID is the public half of the private key beside it. Someone holding the PIN can generate a pair of their
 * own (CKA_LOCAL, every flag as Credence sets it, the public half under the key's CKA_ID and label, the private half
 * elsewhere and extractable) and delete the real public object: the lookup then answered the intruder's public key,
 * and tokens signed outside the HSM verified. So a pair is proven before it is used: the private key, in the token,
 * does what only it can, and the host checks the result against the public object's key.
 */

/** Signed by a signing key in the token: domain-separated, so the proof is never a signature over anything else. */
const CHALLENGE = utf8('credence/v1/pkcs11-pair-proof: the public key object under this CKA_ID is the private key\'s own');
/**
 * An agreement key cannot sign (CKA_DERIVE only): it agrees, in the token, with this fixed host key, and the secret
 * (kept in the token) MACs the challenge, compared with the MAC of the secret the host computes from the public
 * object's point. Fixed and public: it proves nothing but that d·H = h·Q, i.e. Q = d·G (P-256 has cofactor 1).
 */
const HOST_AGREEMENT_KEY = sha256(utf8('credence/v1/pkcs11-pair-proof/p256-host-agreement-key'));
const HOST_AGREEMENT_PUBLIC_KEY = agreementPublicKey('p256', HOST_AGREEMENT_KEY);

const mismatch = (key: TokenKey, how: string) =>
  integrity(
    key.handle,
    `its public key object does not belong to its private key (${how}): replaced outside Credence; refused: ` +
      'restore the token from a backup that holds the pair, or destroy the key and replace it where it is used',
  );

/** A session secret of the agreement, unlabelled (no Credence lookup takes it), HMAC only, destroyed at once. */
const AGREED_SECRET = [
  { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
  { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_GENERIC_SECRET },
  { type: pkcs11js.CKA_TOKEN, value: false },
  { type: pkcs11js.CKA_PRIVATE, value: true },
  { type: pkcs11js.CKA_SENSITIVE, value: true },
  { type: pkcs11js.CKA_EXTRACTABLE, value: false },
  { type: pkcs11js.CKA_SIGN, value: true },
];

const signingProof = (token: TokenSession, key: TokenKey, kind: 'ed25519' | 'p256', publicKey: Uint8Array): boolean => {
  const signature = kind === 'ed25519' ? token.sign('CKM_EDDSA', key.key, CHALLENGE, 64) : lowS(token.sign('CKM_ECDSA', key.key, sha256(CHALLENGE), 64));
  return verifySignature(kind, publicKey, CHALLENGE, signature);
};

const agreementProof = (token: TokenSession, key: TokenKey, publicKey: Uint8Array): boolean => {
  const expected = sharedSecret('p256', HOST_AGREEMENT_KEY, publicKey);
  if (expected === undefined) return false;
  let secret: Pkcs11Handle | undefined;
  try {
    secret = deriveEcdh(token, key.key, HOST_AGREEMENT_PUBLIC_KEY, AGREED_SECRET);
    const tag = token.sign('CKM_SHA256_HMAC', secret, CHALLENGE, 32);
    return constantTimeEqual(tag, hmacSha256(expected, CHALLENGE));
  } finally {
    wipe(expected);
    if (secret !== undefined) token.destroy([secret]);
  }
};

/**
 * Refuses (`token_integrity`, the handle and the rule named, no key bytes) a key pair whose public object is not its
 * private key's; once per pair of object handles per session (`keys` remembers what was proven), a signature or an
 * agreement in the token each time a key is looked up afresh. A key without a public object is not a pair here.
 */
export const provePair = (token: TokenSession, keys: RememberedKeys, key: TokenKey): void => {
  const { kind } = key.label;
  const publicObject = key.publicKey;
  if (publicObject === undefined || (kind !== 'ed25519' && kind !== 'p256')) return;
  if (keys.wasProven(key.key, publicObject)) return;
  const publicKey = token.run(() => ecPoint(token.module, token.session, publicObject, kind));
  const agrees = key.label.usage === 'agree';
  const proven = agrees ? agreementProof(token, key, publicKey) : signingProof(token, key, kind, publicKey);
  if (!proven) {
    throw mismatch(
      key,
      agrees ? 'an agreement its private key makes in the token is not the one its public key gives' : 'a challenge its private key signs in the token does not verify under its public key',
    );
  }
  keys.proven(key.key, publicObject);
};
