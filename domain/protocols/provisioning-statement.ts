import { utf8 } from '../crypto/bytes.ts';
import type { CredentialDescriptor, CredentialKind } from '../crypto/credential.ts';
import { sha256 } from '../crypto/hash.ts';
import { canonicalJson } from '../crypto/transcript.ts';
import { proofFor } from './provisioning-proofs.ts';

/**
 * The receipt statement of remote provisioning (seed 003 clause 11.2.1; SER-016, issue 11 item 5): the facts a
 * provisioning receipt proves, as one RFC 8785 canonical JSON object that the node and the Enrolment Function both
 * sign, and that anyone can rebuild from a recorded receipt (every field is public; no key material).
 *
 *   { "statement": "credence/provisioning/receipt", "version": 2,
 *     "sessionId", "nodeId", "enrolmentFunctionId", "credentialId"?,
 *     "credential": { "kind", "fingerprint", "publicKey"?, "notBefore", "notAfter", "owner": { "kind", "id" } },
 *     "bootstrap": { "kind", "fingerprint", "manufacturerCertificateFingerprint"? },
 *     "serviceParameters": { "cseId"?, "m2mSubId"? },
 *     "transcriptHash", "completedAt" }
 *
 * Absent optional fields are left out (never null). `transcriptHash` is the run's transcript up to and including
 * the receipt's unsigned fields, so the statement also binds every message of the run. Each proof covers
 * `proofFor(role, purpose, SHA-256(JCS(statement)))`: the label names protocol, role and purpose, and the purposes
 * differ from those of the v1 receipt proofs (which covered the bare transcript hash), so neither can pass as the other.
 */
export const RECEIPT_STATEMENT = 'credence/provisioning/receipt';
export const RECEIPT_STATEMENT_VERSION = 2 as const;

/** The proof purposes over the statement digest: the node with its bootstrap and with its new credential, the Enrolment Function. */
export const STATEMENT_PURPOSE = {
  bootstrap: 'receipt-statement',
  credential: 'receipt-statement-credential',
  enrolmentFunction: 'receipt-statement',
} as const;

export interface StatementCredential {
  readonly kind: CredentialKind;
  readonly fingerprint: string;
  readonly publicKey?: string | undefined;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly owner: { readonly kind: string; readonly id: string };
}

export interface ReceiptFacts {
  readonly sessionId: string;
  readonly nodeId: string;
  readonly enrolmentFunctionId: string;
  readonly credentialId?: string | undefined;
  readonly credential: StatementCredential;
  readonly bootstrap: { readonly kind: CredentialKind; readonly fingerprint: string; readonly manufacturerCertificateFingerprint?: string | undefined };
  readonly serviceParameters: { readonly cseId?: string | undefined; readonly m2mSubId?: string | undefined };
  readonly transcriptHash: string;
  readonly completedAt: string;
}

export type ReceiptStatement = ReceiptFacts & { readonly statement: typeof RECEIPT_STATEMENT; readonly version: typeof RECEIPT_STATEMENT_VERSION };

const defined = <T extends object>(o: T): T =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

/** The statement of these facts, with exactly the listed fields (anything else a caller's object holds is left out). */
export const receiptStatement = (f: ReceiptFacts): ReceiptStatement =>
  defined<ReceiptStatement>({
    statement: RECEIPT_STATEMENT,
    version: RECEIPT_STATEMENT_VERSION,
    sessionId: f.sessionId,
    nodeId: f.nodeId,
    enrolmentFunctionId: f.enrolmentFunctionId,
    credentialId: f.credentialId,
    credential: defined({
      kind: f.credential.kind,
      fingerprint: f.credential.fingerprint,
      publicKey: f.credential.publicKey,
      notBefore: f.credential.notBefore,
      notAfter: f.credential.notAfter,
      owner: { kind: f.credential.owner.kind, id: f.credential.owner.id },
    }),
    bootstrap: defined({
      kind: f.bootstrap.kind,
      fingerprint: f.bootstrap.fingerprint,
      manufacturerCertificateFingerprint: f.bootstrap.manufacturerCertificateFingerprint,
    }),
    serviceParameters: defined({ cseId: f.serviceParameters.cseId, m2mSubId: f.serviceParameters.m2mSubId }),
    transcriptHash: f.transcriptHash,
    completedAt: f.completedAt,
  });

/** The statement's canonical bytes (RFC 8785), what a person or another implementation reproduces. */
export const statementBytes = (statement: ReceiptStatement): Uint8Array => utf8(canonicalJson(statement));

/** What each signer signs or MACs: the role- and purpose-labelled SHA-256 of the canonical statement. */
export const statementProofInput = (signer: keyof typeof STATEMENT_PURPOSE, statement: ReceiptStatement): Uint8Array =>
  proofFor(signer === 'enrolmentFunction' ? 'enrolment-function' : 'node', STATEMENT_PURPOSE[signer], sha256(statementBytes(statement)));

/** The credential part of the statement from a descriptor (the certificate, if any, is not part of it). */
export const statementCredential = (d: CredentialDescriptor): StatementCredential => ({
  kind: d.kind,
  fingerprint: d.fingerprint,
  ...(d.kind !== 'psk256' ? { publicKey: d.publicKey } : {}),
  notBefore: d.validity.notBefore,
  notAfter: d.validity.notAfter,
  owner: { kind: d.owner.kind, id: d.owner.id },
});
