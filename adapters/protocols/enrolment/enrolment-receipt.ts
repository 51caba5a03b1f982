import { fromBase64url, toBase64url } from '../../../domain/crypto/base64url.ts';
import type { CredentialDescriptor } from '../../../domain/crypto/credential.ts';
import { withoutFields } from '../../../domain/crypto/transcript.ts';
import { CredenceError, isCredenceError, isKeyNotFound, type Problem } from '../../../domain/errors.ts';
import type { KeyHandle, OwnedSecureEnvironment } from '../../../domain/ports/secure-environment.ts';
import { assertFresh, protocolFailure } from '../../../domain/protocols/protocol.ts';
import { receiptHash, receiptRefusalProofInput, REFUSAL_PROOF_MEMBER } from '../../../domain/protocols/receipt-refusal.ts';
import { proofFor } from '../../../domain/protocols/provisioning-proofs.ts';
import { statementProofInput, type ReceiptStatement } from '../../../domain/protocols/provisioning-statement.ts';
import { outcomeStatement } from '../../../domain/protocols/recorded-receipt.ts';
import {
  CERTIFICATE_HANDOVER,
  certificateHandover,
  type ProvisioningOutcome,
  type ProvisioningReceipt,
  type ServiceParameters,
} from '../../../domain/protocols/enrolment-messages.ts';
import { checkProof, proofFailure, prove, pskOf, type CredentialKey, type ProofVerifier } from '../shared/proof.ts';
import { failedProof, failedProofOrKeyFault, type KeptRefusal } from '../shared/failed-proofs.ts';
import type { EnrolmentFunctionOptions } from './enrolment-options.ts';
import type { RealRun, RunContext, Session } from './enrolment-runs.ts';

export const RECEIPT = 'provisioning.receipt';

/**
 * The refusals of a receipt that are final, for which the refusal says nothing was recorded nor ever will be for it:
 * the protocol's own (but `unknown_session`, which says only that the run is over: a copy of the receipt that got in
 * first may have had it recorded, review 238) and the engine's refusals of the record, which append nothing
 * (record.ts `refusedWithoutAppend`). A 5xx (the store, the Secure Environment) is none of them: it is answered
 * unsigned and its outcome stays unknown to the node.
 */
const FINAL_REFUSALS: ReadonlySet<Problem['code']> = new Set(['protocol', 'illegal_transition', 'not_found', 'concurrency_conflict']);

/**
 * `refusal` of `receipt` in the run whose transcript through the receipt is `transcriptHash`, with the Enrolment
 * Function's proof that it refused that receipt (domain/protocols/receipt-refusal.ts; review 333): the node, which
 * kept its new key on any refusal once the receipt was sent (unsigned, one may be made up on the path once the server
 * recorded it: review 319), destroys it on one that verifies under the key it pinned. Made with `signingKey`, the key
 * the node pins whatever its bootstrap (a PSK bootstrap's key may be shredded with a node revoked during the run),
 * through the Secure Environment as the certificate's proof is. Anything not final (`FINAL_REFUSALS`), not a
 * CredenceError, or a service key missing (`isKeyNotFound`, answered 500) is returned as it is; so is `refusal` when
 * the signing fails (the node then keeps its key and settles, as before). The real refusal behind a concealing one
 * stays its non-enumerable cause.
 */
export const withRefusalProof = async (
  se: OwnedSecureEnvironment,
  signingKey: CredentialKey | undefined,
  run: { readonly transcriptHash: string; readonly receipt: ProvisioningReceipt },
  refusal: unknown,
): Promise<unknown> => {
  if (signingKey === undefined || signingKey.kind === 'psk256' || !isCredenceError(refusal) || isKeyNotFound(refusal)) return refusal;
  const { problem } = refusal;
  if (!FINAL_REFUSALS.has(problem.code) || REFUSAL_PROOF_MEMBER in problem) return refusal;
  if (problem.code === 'protocol' && problem.reason === 'unknown_session') return refusal;
  const reason = problem.code === 'protocol' ? problem.reason : undefined;
  let proof: string;
  try {
    proof = await prove(se, signingKey, receiptRefusalProofInput({ transcriptHash: run.transcriptHash, receiptHash: receiptHash(run.receipt), code: problem.code, reason }));
  } catch {
    return refusal;
  }
  // The problem's extension members reach the answer as they are (adapters/http/map-raised-error.ts).
  const signed = new CredenceError(Object.assign({}, problem, { [REFUSAL_PROOF_MEMBER]: proof }));
  if (refusal.cause !== undefined) Object.defineProperty(signed, 'cause', { value: refusal.cause, enumerable: false, writable: true, configurable: true });
  return signed;
};

/**
 * What a receipt is refused for before its proofs are checked, anyone's: a refusal here leaves the run going
 * (SessionTable.step's `admit`), so a stranger who saw the session id cannot end a run whose PSK was delivered
 * (review 224). `skew`: the clock skew accepted for `receipt.completedAt`.
 */
export const admitReceipt = (skew: number, session: Session, receipt: ProvisioningReceipt, now: Date): void => {
  // Unreachable: a decoy run never passes its auth (acceptAuth).
  if (session.decoy !== undefined) throw protocolFailure(RECEIPT, 'unknown_session', `session is not awaiting ${RECEIPT}`);
  if (receipt.credentialFingerprint !== (session.credential as CredentialDescriptor).fingerprint) throw protocolFailure(RECEIPT, 'credential_mismatch');
  assertFresh(RECEIPT, receipt.completedAt, now, skew);
};

/**
 * The Enrolment Function's outcome of a run whose node sent `receipt` (EnrolmentFunction.acceptReceiptInContext),
 * admitted by `admitReceipt`, with the context its hello was accepted in; or, for a receipt whose proofs do not
 * check (a junk one from whoever saw the delivery, say), its refusal with the run kept (failed-proofs.ts).
 */
export const completeRun = async (
  o: EnrolmentFunctionOptions,
  session: Session,
  receipt: ProvisioningReceipt,
  now: Date,
): Promise<{ outcome: ProvisioningOutcome; context: RunContext } | KeptRefusal> => {
  const { se, signingKey } = o;
  // Here for the type of `session`: `admitReceipt` refused a decoy run.
  if (session.decoy !== undefined) throw protocolFailure(RECEIPT, 'unknown_session', `session is not awaiting ${RECEIPT}`);
  const credential = session.credential as CredentialDescriptor;
  const before = session.transcript.length;
  const th = session.transcript.absorb(receipt.type, withoutFields(receipt, 'bootstrapProof', 'credentialProof'));
  const { hello } = session;
  // The facts the receipt proves, as this function knows them: the node's proofs must be over exactly these
  // (issue 11 item 5), so the recorded receipt cannot say anything the node did not state.
  const facts = {
    sessionId: session.id,
    nodeId: hello.nodeId,
    enrolmentFunctionId: o.id,
    ...(hello.credentialId !== undefined ? { credentialId: hello.credentialId } : {}),
    credential,
    bootstrapKind: hello.bootstrap.kind,
    bootstrapFingerprint: hello.bootstrap.fingerprint,
    ...(session.manufacturerCertificate ? { manufacturerCertificate: session.manufacturerCertificate } : {}),
    serviceParameters: session.serviceParameters as ServiceParameters,
    transcriptHash: toBase64url(th),
    completedAt: receipt.completedAt,
  };
  const statement = outcomeStatement(facts);
  const credentialVerifier: ProofVerifier =
    credential.kind === 'psk256'
      ? { kind: 'psk256', handle: session.credentialKeyHandle as KeyHandle }
      : { kind: credential.kind, publicKey: fromBase64url(credential.publicKey) };
  // Key confirmation (the node proves it holds the credential it was just given, or generated), then its proof by its
  // bootstrap. The new credential's first: its verifier, the session copy or the public key, is one revocation cannot
  // take away, where the bootstrap PSK may be shredded after the delivery; checked second, a copy of the node's receipt
  // with only its credential proof altered was told the bootstrap proof failed on a shredded bootstrap, the new
  // credential's on a usable one (review 405 F1; seeds 002/004, SER-001).
  const proofs = [
    [credentialVerifier, 'credential', receipt.credentialProof, 'receipt not made with the new credential'],
    [session.nodeVerifier, 'bootstrap', receipt.bootstrapProof, 'receipt not made with the bootstrap credential'],
  ] as const;
  // Each refusal from here on is of this receipt in this run, and says so under the Enrolment Function's key
  // (`withRefusalProof`): the node destroys its new key on it.
  const run = { transcriptHash: facts.transcriptHash, receipt };
  const rewind = () => session.transcript.rewind(before);
  for (const [verifier, by, proof, detail] of proofs) {
    const failed = async () => (await withRefusalProof(se, signingKey, run, protocolFailure(RECEIPT, proofFailure(verifier), detail))) as CredenceError;
    let verified: boolean;
    try {
      verified = await checkProof(se, verifier, statementProofInput(by, statement), proof);
    } catch (error) {
      // The bootstrap ended after the delivery (its PSK shredded, the node revoked): a failed proof to anyone else, the
      // run kept up to the third as for a wrong proof, the reason kept for the log; `credential_revoked` here, ending
      // the run at once, told whoever copied the delivered receipt that the bootstrap was revoked (review 400 F1). A
      // key of the service's own (the new PSK's session copy) is thrown, as before.
      return failedProofOrKeyFault(session, RECEIPT, error, [pskOf(session.nodeVerifier)], await failed(), rewind);
    }
    if (!verified) return failedProof(session, await failed(), rewind);
  }
  try {
    return await acceptVerified(o, session, { statement, facts, credential }, receipt);
  } catch (error) {
    // The issuing CA's refusal (`certificate_not_issued`), say: the run ends, nothing recorded.
    throw await withRefusalProof(se, signingKey, run, error);
  }
};

/** `completeRun` once the receipt's proofs verified: the outcome to record, the run done. */
const acceptVerified = async (
  o: EnrolmentFunctionOptions,
  session: RealRun,
  verified: {
    readonly statement: ReceiptStatement;
    readonly facts: Omit<ProvisioningOutcome, 'receipt' | 'credentialKeyHandle' | 'certificateProof'>;
    readonly credential: CredentialDescriptor;
  },
  receipt: Pick<ProvisioningReceipt, 'bootstrapProof' | 'credentialProof'>,
): Promise<{ outcome: ProvisioningOutcome; context: RunContext }> => {
  const { se, signingKey } = o;
  const { statement, facts, credential } = verified;
  const enrolmentFunctionSignature = signingKey && {
    kind: signingKey.kind,
    keyFingerprint: (await se.describe(signingKey.handle)).fingerprint,
    value: await prove(se, signingKey, statementProofInput('enrolmentFunction', statement)),
  };
  // Signed now, the receipt verified, and handed to the node only once recorded (EnrolmentEndpoint): a
  // certificate out in the field that no event records could never be revoked.
  const certified = await session.certificate?.issue();
  const handover = session.transcript.absorb(CERTIFICATE_HANDOVER, certificateHandover(certified?.certificate));
  const certificateProof = await prove(se, session.signer, proofFor('enrolment-function', 'certificate', handover));
  // The receipt is accepted and nothing after this can refuse it: only now is the infrastructure's copy stored,
  // re-imported non-extractable (once delivered, it never leaves again) and handed over; the session copy and the
  // delivery key go with the session. (Made before a step that can still fail, it outlived the refusal: no
  // cleanup and no registry knew it.)
  const { delivery } = session;
  const stored = delivery && (await se.unwrap(delivery.kek, delivery.wrapped, delivery.aad, { kind: 'psk256' }));
  if (delivery && stored === undefined) throw new Error('the delivered PSK no longer opens under its delivery key');
  const outcome: ProvisioningOutcome = {
    ...facts,
    certificateProof,
    ...(certified !== undefined && credential.kind !== 'psk256'
      ? {
          credential: { ...credential, certificate: certified.certificate },
          issuingCa: certified.issuingCa,
          ...(certified.issuingCaCertifies !== undefined ? { issuingCaCertifies: certified.issuingCaCertifies } : {}),
        }
      : {}),
    ...(stored ? { credentialKeyHandle: stored } : {}),
    receipt: {
      version: 2,
      bootstrapProof: receipt.bootstrapProof,
      credentialProof: receipt.credentialProof,
      ...(enrolmentFunctionSignature ? { enrolmentFunctionSignature } : {}),
    },
  };
  session.done = true;
  return { outcome, context: session.context };
};
