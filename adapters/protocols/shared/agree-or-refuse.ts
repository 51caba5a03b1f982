import { isCredenceError, isKeyNotFound } from '../../../domain/errors.ts';
import { protocolFailure } from '../../../domain/protocols/protocol.ts';
import type { KeyHandle, OwnedSecureEnvironment } from '../../../domain/ports/secure-environment.ts';

/**
 * Whether `error` is the Secure Environment refusing the peer's public key (port-checks.ts `peerKeyRefused`:
 * issue `peerPublicKey`/`curve_point`), and nothing else: a `validation` about any other argument, or about this
 * service's own key, is not the peer's fault (review 187: every one was answered `invalid_ephemeral_key`).
 */
const isPeerKeyRefused = (error: unknown): boolean =>
  isCredenceError(error, 'validation') &&
  error.problem.code === 'validation' &&
  error.problem.issues.length > 0 &&
  error.problem.issues.every((issue) => issue.path === 'peerPublicKey' && issue.rule === 'curve_point');

/**
 * Key agreement inside a protocol step: a peer key the Secure Environment refuses (an X25519 low-order point,
 * say, which only the ECDH itself reveals) is the peer's fault, reported as a `protocol` error at that step. This
 * end's own ephemeral key gone (a token session lost since the run began takes its session objects: an HSM restart,
 * an idle network HSM; docs/hsm.md) is the run lost, answered as a run this end no longer has (`unknown_session`),
 * so that the peer starts a new one; the Secure Environment's `not_found` stays behind it as its `cause`, for the
 * service's log (it names the handle and the token, never key material).
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
    if (isPeerKeyRefused(error)) throw protocolFailure(step, 'invalid_ephemeral_key');
    if (isKeyNotFound(error, ephemeral)) throw runLost(step, error);
    throw error;
  }
};

/** `unknown_session` at `step`, its cause `gone` (not enumerable: never serialised into an answer). */
const runLost = (step: string, gone: unknown): Error => {
  const lost = protocolFailure(step, 'unknown_session', "this end's key for the run is gone (its Secure Environment lost it): start a new run");
  Object.defineProperty(lost, 'cause', { value: gone, enumerable: false, writable: true, configurable: true });
  return lost;
};
