import { toBase64url } from '../crypto/base64url.ts';
import { utf8 } from '../crypto/bytes.ts';
import { sha256 } from '../crypto/hash.ts';
import { canonicalJson } from '../crypto/transcript.ts';
import type { ProvisioningReceipt } from './enrolment-messages.ts';
import { proofFor } from './provisioning-proofs.ts';

/**
 * The Enrolment Function's word that it refused a provisioning receipt for good (review 333): the proof a refusal of
 * the receipt carries (`refusalProof`, a member of its problem document) is its signing key's signature, the key the
 * node pinned at the factory, over `proofFor('enrolment-function', 'receipt-refusal', SHA-256(JCS(statement)))`, where
 *
 *   { "statement": "credence/provisioning/receipt-refusal", "version": 1,
 *     "transcriptHash", "receiptHash", "code", "reason"? }
 *
 * `transcriptHash` is the run's transcript up to and including the receipt's unsigned fields (the receipt statement's,
 * base64url), binding the refusal to this run; `receiptHash`, SHA-256 of the receipt's RFC 8785 canonical JSON, its
 * proofs included (`receiptHash`), binding it to this very receipt: a receipt altered on the path (a proof spoiled)
 * is refused under another hash, so that refusal cannot be handed to the node whose own receipt the server recorded.
 * `code` is the problem code (`protocol`, `illegal_transition`, ...) and `reason` a protocol refusal's reason only.
 * The label names protocol, role and purpose, the statement names itself: neither passes for any other proof.
 * Refusals are otherwise unsigned, so without it a node cannot tell the server's refusal from one made up on the path.
 */
export const RECEIPT_REFUSAL_STATEMENT = 'credence/provisioning/receipt-refusal';
export const RECEIPT_REFUSAL_VERSION = 1 as const;
export const RECEIPT_REFUSAL_PURPOSE = 'receipt-refusal';

/** The member of a receipt refusal's problem document that carries the proof. */
export const REFUSAL_PROOF_MEMBER = 'refusalProof';

export interface ReceiptRefusalFacts {
  /** The run's transcript hash through the receipt, base64url. */
  readonly transcriptHash: string;
  /** `receiptHash` of the receipt refused. */
  readonly receiptHash: string;
  /** The refusal's problem code. */
  readonly code: string;
  /** A `protocol` refusal's reason; absent for any other code. */
  readonly reason?: string | undefined;
}

/** SHA-256 of the receipt's canonical JSON (its proofs included), base64url. */
export const receiptHash = (receipt: ProvisioningReceipt): string => toBase64url(sha256(utf8(canonicalJson(receipt))));

/** The bytes the Enrolment Function signs, and the node verifies, for a refusal of these facts. */
export const receiptRefusalProofInput = (facts: ReceiptRefusalFacts): Uint8Array => {
  const statement = {
    statement: RECEIPT_REFUSAL_STATEMENT,
    version: RECEIPT_REFUSAL_VERSION,
    transcriptHash: facts.transcriptHash,
    receiptHash: facts.receiptHash,
    code: facts.code,
    ...(facts.reason !== undefined ? { reason: facts.reason } : {}),
  };
  return proofFor('enrolment-function', RECEIPT_REFUSAL_PURPOSE, sha256(utf8(canonicalJson(statement))));
};
