import { isKeyNotFound } from '../../../domain/errors.ts';
import { protocolFailure } from '../../../domain/protocols/protocol.ts';

/**
 * What a protocol step answers when a Secure Environment key it needs is gone. The key of the peer's credential
 * (`peerKeys`, the PSK it authenticates with): the credential ended during the run and the shredder destroyed it, a
 * refusal of the step, `credential_revoked`. Any other key is this service's own, lost (a token object deleted, a
 * registry out of step): an internal error, whose message (logged, never answered) names the handle. Other errors
 * pass unchanged. The peer never learns a handle.
 */
export const keyGoneAt = (step: string, error: unknown, peerKeys: readonly (string | undefined)[]): unknown => {
  if (!isKeyNotFound(error)) return error;
  const handle = (error as { problem: { streamId: string } }).problem.streamId;
  if (peerKeys.includes(handle)) return protocolFailure(step, 'credential_revoked', 'the credential ended during the run');
  return new Error(`${step}: a key of this service is missing from its Secure Environment (${handle})`, { cause: error });
};
