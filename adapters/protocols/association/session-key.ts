import { utf8 } from '../../../domain/crypto/bytes.ts';
import { proofInput } from '../../../domain/crypto/transcript.ts';
import { agreeOrRefuse } from '../shared/agree-or-refuse.ts';
import { destroyQuietly } from '../shared/destroy-quietly.ts';
import type { KeyHandle, SecureEnvironment } from '../../../domain/ports/secure-environment.ts';

export const PROTOCOL = 'association';
const SESSION_KEY_INFO = utf8('credence/association/v1/session-key');

export const proofFor = (role: 'registrar' | 'registree', purpose: string, transcriptHash: Uint8Array): Uint8Array =>
  proofInput(PROTOCOL, role, purpose, transcriptHash);

/**
 * Session key (clause 11.3.2 (b)): HKDF-SHA256 inside the Secure Environment, salt = transcript hash after the
 * challenge (both identities, both nonces, both ephemerals, the granted lifetime), IKM = the PSK, or the ephemeral
 * ECDH secret for asymmetric credentials. The ephemeral key is destroyed once used.
 */
export const deriveSessionKey = async (
  se: SecureEnvironment,
  owner: string,
  source: { readonly psk: KeyHandle } | { readonly ephemeral: KeyHandle; readonly peerPublicKey: Uint8Array },
  transcriptHash: Uint8Array,
  step: string,
): Promise<KeyHandle> => {
  if ('psk' in source) {
    return se.deriveKey(owner, { inputs: [source.psk], salt: transcriptHash, info: SESSION_KEY_INFO, kind: 'session256' });
  }
  const secret = await agreeOrRefuse(se, owner, source.ephemeral, source.peerPublicKey, step);
  try {
    return await se.deriveKey(owner, { inputs: [secret], salt: transcriptHash, info: SESSION_KEY_INFO, kind: 'session256' });
  } finally {
    await destroyQuietly(se, owner, secret, source.ephemeral);
  }
};
