import { isCredenceError, isKeyNotFound, type CredenceError } from '../../../domain/errors.ts';
import { concealing, protocolFailure, unusableCredential } from '../../../domain/protocols/protocol.ts';

/**
 * What a protocol step answers when a Secure Environment key it needs is gone. The key of the peer's credential
 * (`peerKeys`, the PSK it authenticates with): the credential ended during the run and the shredder destroyed it, a
 * refusal of the step, `credential_revoked`. Any other key is this service's own, lost (a token object deleted, a
 * registry out of step): an internal error, whose message (logged, never answered) names the handle. Other errors
 * pass unchanged. The peer never learns a handle. For a peer whose proof has verified; before that, `keyGoneBeforeProof`.
 */
export const keyGoneAt = (step: string, error: unknown, peerKeys: readonly (string | undefined)[]): unknown => {
  if (!isKeyNotFound(error)) return error;
  const handle = (error as { problem: { streamId: string } }).problem.streamId;
  if (peerKeys.includes(handle)) return protocolFailure(step, 'credential_revoked', 'the credential ended during the run');
  return new Error(`${step}: a key of this service is missing from its Secure Environment (${handle})`, { cause: error });
};

/**
 * `keyGoneAt` for a peer that has not proved its credential yet (a hello, or the step that checks its first proof):
 * the credential ended is told as any credential it cannot use (`unusableCredential`, the real refusal kept for the
 * log), since anyone holding a Node-ID and a public fingerprint can open a run and must not learn that it was revoked
 * (seeds 002 and 004 unobservability; SER-001).
 */
export const keyGoneBeforeProof = (step: string, error: unknown, peerKeys: readonly (string | undefined)[]): unknown => {
  const answer = keyGoneAt(step, error, peerKeys);
  return answer !== error && isCredenceError(answer, 'protocol') ? unusableCredential(step, answer) : answer;
};

/**
 * `keyGoneBeforeProof` for the check of the peer's first proof where a failed proof has its own answer (the
 * association finish): a peer key gone during that check (the credential ended during the run) is answered exactly
 * as `failedProof`, since `unknown_credential` there would tell anyone who opened a run that the credential became
 * unusable during it (seeds 002/004; SER-001). The real refusal stays behind the answer as its `cause`, for the
 * service's log (`concealedRefusal`). Other errors, a key of the service's own among them, as `keyGoneAt`.
 */
export const keyGoneAtProof = (step: string, error: unknown, peerKeys: readonly (string | undefined)[], failedProof: CredenceError): unknown => {
  const answer = keyGoneAt(step, error, peerKeys);
  return answer !== error && isCredenceError(answer, 'protocol') ? concealing(failedProof, answer) : answer;
};
