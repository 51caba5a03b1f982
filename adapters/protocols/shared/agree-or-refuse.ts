import { isCredenceError } from '../../../domain/errors.ts';
import { protocolFailure } from '../../../domain/protocols/protocol.ts';
import type { KeyHandle, OwnedSecureEnvironment } from '../../../domain/ports/secure-environment.ts';

/**
 * Key agreement inside a protocol step: a peer key the Secure Environment refuses (an X25519 low-order point,
 * say, which only the ECDH itself reveals) is the peer's fault, reported as a `protocol` error at that step.
 */
export const agreeOrRefuse = async (
  se: OwnedSecureEnvironment,
  ephemeral: KeyHandle,
  peerPublicKey: Uint8Array,
  step: string,
): Promise<KeyHandle> => {
  try {
    return await se.agree(ephemeral, peerPublicKey);
  } catch (error) {
    if (isCredenceError(error, 'validation')) throw protocolFailure(step, 'invalid_ephemeral_key');
    throw error;
  }
};
