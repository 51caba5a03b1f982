import { fromBase64url, toBase64url } from '../../../domain/crypto/base64url.ts';
import type { CredentialDescriptor } from '../../../domain/crypto/credential.ts';
import { withoutFields } from '../../../domain/crypto/transcript.ts';
import type { KeyHandle } from '../../../domain/ports/secure-environment.ts';
import { assertFresh, protocolFailure } from '../../../domain/protocols/protocol.ts';
import { proofFor } from '../../../domain/protocols/provisioning-proofs.ts';
import { statementProofInput } from '../../../domain/protocols/provisioning-statement.ts';
import { outcomeStatement } from '../../../domain/protocols/recorded-receipt.ts';
import {
  CERTIFICATE_HANDOVER,
  certificateHandover,
  type ProvisioningOutcome,
  type ProvisioningReceipt,
  type ServiceParameters,
} from '../../../domain/protocols/enrolment-messages.ts';
import { checkProof, proofFailure, prove, type ProofVerifier } from '../shared/proof.ts';
import { failedProof, type KeptRefusal } from '../shared/failed-proofs.ts';
import type { EnrolmentFunctionOptions } from './enrolment-options.ts';
import type { RunContext, Session } from './enrolment-runs.ts';

export const RECEIPT = 'provisioning.receipt';

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
  // The node's proof by its bootstrap, then key confirmation: it proves it holds the credential it was just given (or
  // generated).
  const proofs = [
    [session.nodeVerifier, 'bootstrap', receipt.bootstrapProof, 'receipt not made with the bootstrap credential'],
    [credentialVerifier, 'credential', receipt.credentialProof, 'receipt not made with the new credential'],
  ] as const;
  for (const [verifier, by, proof, detail] of proofs) {
    if (!(await checkProof(se, verifier, statementProofInput(by, statement), proof))) {
      return failedProof(session, protocolFailure(RECEIPT, proofFailure(verifier), detail), () => session.transcript.rewind(before));
    }
  }
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
      ? { credential: { ...credential, certificate: certified.certificate }, issuingCa: certified.issuingCa }
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
