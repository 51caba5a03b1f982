import { utf8 } from '../../../domain/crypto/bytes.ts';
import { agreeOrRefuse } from '../shared/agree-or-refuse.ts';
import type { KeyHandle, OwnedSecureEnvironment } from '../../../domain/ports/secure-environment.ts';

/**
 * PSK delivery key (both ends): ECDH of the two ephemeral keys, then HKDF-SHA256 with the transcript hash up to and
 * including the node's authentication as salt, so the key exists only for this authenticated run. The wrapped
 * PSK's AAD adds the descriptor it is delivered with, so the key and its stated fingerprint/validity travel as one.
 */
const DELIVERY_INFO = utf8('credence/provisioning/v1/psk-delivery-key');

export const deliveryKey = async (
  se: OwnedSecureEnvironment,
  ephemeral: KeyHandle,
  peerPublicKey: Uint8Array,
  authTranscriptHash: Uint8Array,
  step: string,
): Promise<KeyHandle> => {
  const secret = await agreeOrRefuse(se, ephemeral, peerPublicKey, step);
  try {
    return await se.deriveKey({
      inputs: [secret],
      salt: authTranscriptHash,
      info: DELIVERY_INFO,
      kind: 'session256',
      ephemeral: true,
    });
  } finally {
    await se.destroy(secret);
  }
};
