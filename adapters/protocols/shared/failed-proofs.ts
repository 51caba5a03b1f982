import { isCredenceError, type CredenceError } from '../../../domain/errors.ts';
import { protocolFailure } from '../../../domain/protocols/protocol.ts';
import { keyGoneAtProof } from './key-gone.ts';
import { proofFailure } from './proof.ts';

/**
 * How many messages whose proof does not check a run takes: the first ones are refused and the run goes on, this one
 * ends it (review 238). A failed proof ended the run at once, so anyone who saw a challenge (its session id and nonce,
 * the delivered credential's fingerprint, all sent in the clear) ended the device's run with a junk auth, receipt or
 * finish from anywhere, a delivered PSK's copy with it. Unbounded, each would cost a Secure Environment call for as
 * long as the run lasts; at the third the run ends, as it did at the first. Said in docs/service.md (Device endpoints).
 */
export const MAX_FAILED_PROOFS = 3;

/** What a run counts of its failed proofs (its session's). */
export interface CountsFailedProofs {
  failedProofs?: number;
}

/**
 * A step's refusal that leaves its run going: returned from SessionTable.step's `handle`, which then puts the run
 * back as it was (its expiry unchanged), and thrown by its caller (`answerOrRefuse`). Thrown from `handle`, a
 * refusal ends the run.
 */
export class KeptRefusal {
  constructor(readonly refusal: CredenceError) {}
}

/**
 * Tells how a message of a run ended, for whoever answers repeats of it (procedures/answered-runs.ts): a run whose
 * message was admitted to its step (past SessionTable.step's `admit`) ends with that message's answer unless the
 * step refuses it and keeps the run (`kept`).
 */
export interface RunWatch {
  /** The message passed the checks before its proof; `expiresAtMs`, when the run's timeout passes. */
  admitted(expiresAtMs: number): void;
  /** The step refused it and the run goes on: its answer is not the run's. */
  kept(): void;
}

/**
 * A message of `session` whose proof did not check (`refusal`, `bad_mac` or `bad_signature`): the run goes on, its
 * transcript taken back to before the message (`rewind`), unless this is its MAX_FAILED_PROOFS-th: then `refusal`
 * is thrown and ends it.
 */
export const failedProof = (session: CountsFailedProofs, refusal: CredenceError, rewind: () => void): KeptRefusal => {
  session.failedProofs = (session.failedProofs ?? 0) + 1;
  if (session.failedProofs >= MAX_FAILED_PROOFS) throw refusal;
  rewind();
  return new KeptRefusal(refusal);
};

/**
 * The check of a peer's first proof (the association finish, the provisioning auth) threw `error`. A key of the peer's
 * credential gone from the Secure Environment (`peerKeys`: the credential ended during the run, its PSK shredded) is a
 * failed proof like any other: answered `refusal`, the real reason behind it for the service's log (`keyGoneAtProof`),
 * the run kept up to its MAX_FAILED_PROOFS-th. Ending the run at once told anyone who saw the challenge, by a second junk
 * message answered `unknown_session` where a wrong proof's gets `bad_mac` again, that the credential ended during the
 * run (review 393; seeds 002/004, SER-001). Anything else, a key of the service's own among them, is thrown and ends it.
 */
export const failedProofOrKeyFault = (
  session: CountsFailedProofs,
  step: string,
  error: unknown,
  peerKeys: readonly (string | undefined)[],
  refusal: CredenceError,
  rewind: () => void,
): KeptRefusal => {
  const answer = keyGoneAtProof(step, error, peerKeys, refusal);
  if (answer !== refusal) throw answer;
  return failedProof(session, refusal, rewind);
};

/** A step's answer, or its kept refusal thrown, `watch` told first that the run goes on. */
export const answerOrRefuse = <T>(result: T | KeptRefusal, watch?: RunWatch): T => {
  if (!(result instanceof KeptRefusal)) return result;
  watch?.kept();
  throw result.refusal;
};

/**
 * Whether `error` is what a failed proof of the claimed kind gets at `step` (`assertProof`, `refuseDecoyFinish`):
 * a decoy run's finish or auth that did not verify, told apart from its holder's, which is told the real reason.
 */
export const isFailedProof = (error: unknown, step: string, claimedKind: string, detail: string): error is CredenceError =>
  isCredenceError(error, 'protocol') && error.message === protocolFailure(step, proofFailure({ kind: claimedKind }), detail).message;
