import type { ProvisioningReceiptV2 } from '../events/credential.ts';
import type { ProvisioningOutcome } from './enrolment-messages.ts';
import { receiptStatement, statementCredential, type ReceiptStatement } from './provisioning-statement.ts';

/** A v2 receipt as `CredentialProvisioned` records it (events/credential.ts), without zod's brands. */
export type RecordedReceipt = Omit<ProvisioningReceiptV2, 'credential'> & { readonly credential: ReceiptStatement['credential'] };

/** The receipt statement both ends sign, from the facts of the Enrolment Function's outcome (its proofs aside). */
export const outcomeStatement = (o: Omit<ProvisioningOutcome, 'receipt' | 'credentialKeyHandle' | 'certificateProof'>): ReceiptStatement =>
  receiptStatement({
    sessionId: o.sessionId,
    nodeId: o.nodeId,
    enrolmentFunctionId: o.enrolmentFunctionId,
    credentialId: o.credentialId,
    credential: statementCredential(o.credential),
    bootstrap: { kind: o.bootstrapKind, fingerprint: o.bootstrapFingerprint, manufacturerCertificateFingerprint: o.manufacturerCertificate?.fingerprint },
    serviceParameters: o.serviceParameters,
    transcriptHash: o.transcriptHash,
    completedAt: o.completedAt,
  });

/** The receipt statement rebuilt from a recorded receipt: from its facts alone, whatever else the object holds. */
export const recordedStatement = (r: RecordedReceipt): ReceiptStatement =>
  receiptStatement({
    sessionId: r.sessionId,
    nodeId: r.nodeId,
    enrolmentFunctionId: r.enrolmentFunctionId,
    credentialId: r.credentialId,
    credential: r.credential,
    bootstrap: { kind: r.bootstrapKind, fingerprint: r.bootstrapFingerprint, manufacturerCertificateFingerprint: r.manufacturerCertificate?.fingerprint },
    serviceParameters: r.serviceParameters,
    transcriptHash: r.transcriptHash,
    completedAt: r.completedAt,
  });

/**
 * The receipt that ends remote provisioning, as the `CredentialProvisioned` event records it: the statement's facts,
 * the node's two proofs and the Enrolment Function's signature. Public facts only: never the PSK copy's handle.
 */
export const recordedReceipt = (o: ProvisioningOutcome): RecordedReceipt => {
  const s = outcomeStatement(o);
  return {
    version: 2,
    sessionId: s.sessionId,
    nodeId: s.nodeId,
    enrolmentFunctionId: s.enrolmentFunctionId,
    ...(s.credentialId !== undefined ? { credentialId: s.credentialId } : {}),
    credential: s.credential,
    bootstrapKind: s.bootstrap.kind,
    bootstrapFingerprint: s.bootstrap.fingerprint,
    ...(o.manufacturerCertificate !== undefined ? { manufacturerCertificate: o.manufacturerCertificate } : {}),
    serviceParameters: s.serviceParameters,
    transcriptHash: s.transcriptHash,
    completedAt: s.completedAt,
    bootstrapProof: o.receipt.bootstrapProof,
    credentialProof: o.receipt.credentialProof,
    ...(o.receipt.enrolmentFunctionSignature !== undefined ? { enrolmentFunctionSignature: o.receipt.enrolmentFunctionSignature } : {}),
  };
};
