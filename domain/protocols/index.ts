/**
 * The two oneM2M protocols as data and rules, with no I/O: wire messages (zod), refusals, nonces and freshness,
 * ephemeral keys, the association lifetime rule (seed 003 clause 11.3.2), what each proof covers, and the offline
 * verification of a provisioning receipt. Both ends (adapters/protocols) and any interface that carries the
 * messages (HTTP, the device simulator) parse them with these schemas.
 */
export { assertFresh, assertUsableCredential, newNonce, Nonce, NONCE_LENGTH, parseMessage, Proof, protocolFailure, SessionId } from './protocol.ts';
export type { AssociationClosedReason, ProtocolReason } from './protocol.ts';
export { acceptEphemeralAnswer, assertValidEphemeral, Ephemeral, ephemeralGroup } from './ephemeral.ts';
export { acceptedClockSkew, DEFAULT_MAX_CLOCK_SKEW_SECONDS } from './clock-skew.ts';
export { transcriptFromHello } from './run-transcript.ts';
export {
  ManufacturerCertificateRecord,
  ProvisioningAuth,
  ProvisioningChallenge,
  ProvisioningDelivery,
  ProvisioningHello,
  ProvisioningOutcome,
  ProvisioningReceipt,
  ServiceParameters,
} from './enrolment-messages.ts';
export type { NodeProvisioningResult } from './enrolment-messages.ts';
export {
  AssociationChallenge,
  AssociationConfiguration,
  AssociationConfirm,
  AssociationFinish,
  AssociationHello,
  AssociationOutcome,
  KeyExchange,
  keyExchangeFor,
} from './association-messages.ts';
export { ASSOCIATION_VERSION, AssociationVersion, foreignVersionRefusal, parseAssociationMessage } from './association-version.ts';
export { associationLifetime } from './association-lifetime.ts';
export type { GrantedLifetime, LifetimeRequest } from './association-lifetime.ts';
export { associationOutcome } from './association-outcome.ts';
export { deliveryAad, proofFor, PROTOCOL as PROVISIONING_PROTOCOL } from './provisioning-proofs.ts';
export { verifyProvisioningReceipt } from './provisioning-receipt.ts';
export type { ProofStatus, PublicKeyRef, ReceiptExpectations, ReceiptKeys, ReceiptProofs, ReceiptVerification } from './provisioning-receipt.ts';
export {
  RECEIPT_STATEMENT,
  RECEIPT_STATEMENT_VERSION,
  receiptStatement,
  statementBytes,
  statementCredential,
  statementProofInput,
} from './provisioning-statement.ts';
export type { ReceiptFacts, ReceiptStatement, StatementCredential } from './provisioning-statement.ts';
export { outcomeStatement, recordedReceipt, recordedStatement } from './recorded-receipt.ts';
export type { RecordedReceipt } from './recorded-receipt.ts';
export { RECEIPT_REFUSAL_PURPOSE, RECEIPT_REFUSAL_STATEMENT, RECEIPT_REFUSAL_VERSION, receiptHash, receiptRefusalProofInput, REFUSAL_PROOF_MEMBER } from './receipt-refusal.ts';
export type { ReceiptRefusalFacts } from './receipt-refusal.ts';
