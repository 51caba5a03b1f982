import { z } from 'zod';
import { AssociationId, CredentialId, Instant, M2MSubId } from '../ids.ts';
import { base64urlText, Fingerprint, Owner, RevocationReason } from './common.ts';
import { CaId } from '../x509/issuing-ca.ts';
import { tryFromBase64url } from '../crypto/base64url.ts';
import { publicKeyFingerprint } from '../crypto/fingerprint.ts';
import { checkPublicKey } from '../crypto/public-key.ts';
import { HASH_LENGTH, MAX_CERTIFICATE_LENGTH, MAX_PROOF_LENGTH, MAX_PUBLIC_KEY_LENGTH } from '../crypto/sizes.ts';

export const CredentialKind = z.enum(['psk256', 'ed25519', 'p256']);
export type CredentialKind = z.infer<typeof CredentialKind>;

/** What the credential is for: the bootstrap (pre-existing) credential of remote provisioning, a service credential, or an App-ID credential. */
export const CredentialPurpose = z.enum(['bootstrap', 'service', 'application']);
export type CredentialPurpose = z.infer<typeof CredentialPurpose>;

/** A certificate recorded by what identifies it, never by anything secret (SER-SWIR-04). */
export const CertificateSummary = z.object({
  fingerprint: Fingerprint,
  subject: z.string().max(1024),
  issuer: z.string().max(1024).optional(),
  serialNumber: z.string().max(128).optional(),
  notBefore: Instant,
  notAfter: Instant,
  trustAnchor: Fingerprint.optional(),
  /** The DER certificate itself, base64url: public, and what a device must present again (IDevID). */
  der: base64urlText(MAX_CERTIFICATE_LENGTH).optional(),
  /** The Credence CA that issued it from the node's CSR (issue 13); absent for factory (IDevID) certificates. */
  issuingCa: CaId.optional(),
  /**
   * The M2M Service Subscription that CA certifies, when it names one (`ca init --subscription`, review 355); absent
   * for a CA certifying the subscription of its id, or `default`. Recorded so that the cascade, reading the log alone,
   * knows whose the certificate says its node is when that node moves to another subscription.
   */
  issuingCaCertifies: M2MSubId.optional(),
});

/** Base64url lengths of the public keys: Ed25519 32 bytes, P-256 uncompressed SEC1 65 bytes. */
const PUBLIC_KEY_CHARS = { ed25519: 43, p256: 87 } as const;

export const CredentialIssued = z.object({
  credentialId: CredentialId,
  kind: CredentialKind,
  purpose: CredentialPurpose,
  owner: Owner,
  fingerprint: Fingerprint,
  /** Public key (asymmetric kinds only), base64url. Never key material of a PSK. */
  publicKey: base64urlText(MAX_PUBLIC_KEY_LENGTH).optional(),
  notBefore: Instant,
  notAfter: Instant,
  certificate: CertificateSummary.optional(),
  /** Set when this credential succeeds another in a rotation (HLR-212, RS-16). */
  predecessorId: CredentialId.optional(),
});

/**
 * Stricter rules for issuing a credential from now on (commands only: stored events stay readable as they were
 * written). A PSK has no public part, so anything in publicKey or a certificate would be the key or make no sense;
 * an asymmetric credential carries its public key, a point of its curve in its one encoding (checkPublicKey): the
 * same P-256 point sent hybrid or compressed had a fingerprint of its own and passed keyNeverCertified (review 201).
 */
export const issuingRules = (d: z.infer<typeof CredentialIssued>, ctx: z.RefinementCtx): void => {
  if (d.kind === 'psk256') {
    if (d.publicKey !== undefined) ctx.addIssue({ code: 'custom', path: ['publicKey'], message: 'a psk256 credential has no public key' });
    if (d.certificate !== undefined) ctx.addIssue({ code: 'custom', path: ['certificate'], message: 'a psk256 credential has no certificate' });
  } else if (d.publicKey === undefined) {
    ctx.addIssue({ code: 'custom', path: ['publicKey'], message: `${d.kind === 'ed25519' ? 'an' : 'a'} ${d.kind} credential needs its public key (${PUBLIC_KEY_CHARS[d.kind]} base64url characters)` });
  } else {
    // Decoded without throwing: the schema checks the length and alphabet, and zod runs this refinement even when
    // those failed (found in review: a key with non-zero padding bits was a 500, not a refusal naming the field).
    const key = tryFromBase64url(d.publicKey);
    if (key === undefined) {
      ctx.addIssue({ code: 'custom', path: ['publicKey'], message: 'must be canonical unpadded base64url' });
      return;
    }
    // Refused, never re-encoded: the fingerprint the device computed over the bytes it sent stays the one recorded.
    const checked = checkPublicKey(d.kind, key);
    if (!checked.ok) {
      ctx.addIssue({ code: 'custom', path: ['publicKey'], params: { rule: checked.rule }, message: checked.message });
      return;
    }
    // The fingerprint is what a device presents and the Registrar finds the credential by, and what says two
    // credentials are one key: one that is not its key's would let the factory key pass as another (found in review).
    const expected = publicKeyFingerprint(d.kind, key);
    if (d.fingerprint !== expected) {
      ctx.addIssue({ code: 'custom', path: ['fingerprint'], message: `must be the SHA-256 of the public key's SubjectPublicKeyInfo (sha256:<64 hex>), ${expected} for this key` });
    }
  }
};

/**
 * RS-01 (review 41): a credential issued to a CSE-ID names the node that holds it, one issued to an AE-ID the App-ID
 * it is an instance of, so the decision reads that holder (machines/facts.ts) and a concurrent end of it conflicts.
 * Nothing else names one. Commands only: events stored before lack it and stay readable.
 */
export const ownerNamesItsHolder = (d: z.infer<typeof CredentialIssued>, ctx: z.RefinementCtx): void => {
  const { owner } = d;
  if (owner.kind === 'cse' && owner.nodeId === undefined) {
    ctx.addIssue({ code: 'custom', path: ['owner', 'nodeId'], message: 'a credential issued to a CSE-ID names the node that holds it (owner.nodeId)' });
  }
  if (owner.kind === 'ae' && owner.appId === undefined) {
    ctx.addIssue({ code: 'custom', path: ['owner', 'appId'], message: 'a credential issued to an AE-ID names the App-ID it is an instance of (owner.appId)' });
  }
  if (owner.kind !== 'cse' && owner.nodeId !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['owner', 'nodeId'], message: `only a cse owner names a node (this owner is ${owner.kind})` });
  }
  if (owner.kind !== 'ae' && owner.appId !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['owner', 'appId'], message: `only an ae owner names an App-ID (this owner is ${owner.kind})` });
  }
};

const ManufacturerCertificateRecord = z.object({
  fingerprint: Fingerprint,
  subject: z.string().max(1024),
  notBefore: Instant,
  notAfter: Instant,
  anchorFingerprint: Fingerprint,
});
const Text256 = z.string().min(1).max(256);

/**
 * Receipt v1 (events recorded before issue 11 item 5; no `version` field): the node's proofs by its bootstrap and
 * by its new credential over `transcriptHash` only. Nothing in it says what that hash covers, so it does not bind
 * the validity, owner, Node-ID, M2M-Sub-ID or Enrolment Function it is stored next to. Readable, not binding.
 */
export const ProvisioningReceiptV1 = z.object({
  version: z.literal(1).optional(),
  sessionId: z.string().min(1).max(64),
  enrolmentFunctionId: Text256,
  transcriptHash: base64urlText({ exact: HASH_LENGTH }),
  bootstrapFingerprint: Fingerprint,
  bootstrapProof: base64urlText(MAX_PROOF_LENGTH),
  credentialProof: base64urlText(MAX_PROOF_LENGTH),
  /** The manufacturer (IDevID) certificate the bootstrap was verified with (SER-SWIR-04). */
  manufacturerCertificate: ManufacturerCertificateRecord.optional(),
});

/**
 * Receipt v2 (seed 003, 11.2.1; SER-016): every fact of the receipt statement (domain/protocols/provisioning-statement.ts),
 * so anyone can rebuild the statement and check the proofs over it (verifyProvisioningReceipt). The node's proofs
 * are signatures for asymmetric keys (verifiable by anyone holding the public keys: non-repudiation), MACs for
 * PSKs; `enrolmentFunctionSignature` is the Enrolment Function's signature over the same statement. Public facts
 * only, never key material. The manufacturer certificate's fingerprint is in the statement; its subject, validity
 * and anchor are the Enrolment Function's reading of that certificate.
 */
/**
 * The owner a receipt's statement covers: its kind and id only (domain/protocols/provisioning-statement.ts). A
 * credential's holder (`Owner.nodeId`, `Owner.appId`, review 41) is not in the signed statement, so a receipt does
 * not carry it (review 44): a stored one that did is read without it, a new command naming one is refused.
 */
const ReceiptOwner = Owner.pick({ kind: true, id: true });

export const ProvisioningReceiptV2 = z.object({
  version: z.literal(2),
  sessionId: z.string().min(1).max(64),
  nodeId: Text256,
  enrolmentFunctionId: Text256,
  credentialId: Text256.optional(),
  credential: z.object({
    kind: CredentialKind,
    fingerprint: Fingerprint,
    publicKey: base64urlText(MAX_PUBLIC_KEY_LENGTH).optional(),
    notBefore: Instant,
    notAfter: Instant,
    owner: ReceiptOwner,
  }),
  bootstrapKind: CredentialKind,
  bootstrapFingerprint: Fingerprint,
  manufacturerCertificate: ManufacturerCertificateRecord.optional(),
  serviceParameters: z.object({ cseId: Text256.optional(), m2mSubId: Text256.optional() }),
  transcriptHash: base64urlText({ exact: HASH_LENGTH }),
  completedAt: Instant,
  bootstrapProof: base64urlText(MAX_PROOF_LENGTH),
  credentialProof: base64urlText(MAX_PROOF_LENGTH),
  enrolmentFunctionSignature: z
    .object({ kind: z.enum(['ed25519', 'p256']), keyFingerprint: Fingerprint, value: base64urlText(MAX_PROOF_LENGTH) })
    .optional(),
});

/** A recorded receipt: v2, or a v1 stored before it (told apart by `version`, absent in v1). */
export const ProvisioningReceipt = z.union([ProvisioningReceiptV2, ProvisioningReceiptV1]);
export type ProvisioningReceiptV1 = z.infer<typeof ProvisioningReceiptV1>;
export type ProvisioningReceiptV2 = z.infer<typeof ProvisioningReceiptV2>;
export type ProvisioningReceipt = z.infer<typeof ProvisioningReceipt>;

export const CredentialProvisioned = z.object({
  credentialId: CredentialId,
  method: z.enum(['pre-provisioning', 'remote-provisioning']),
  /** Pre-existing credential the remote provisioning was mutually authenticated on (seed 003, 11.2.1). */
  bootstrapCredentialId: CredentialId.optional(),
  receipt: ProvisioningReceipt.optional(),
});
/**
 * Stricter rules for recording a provisioning from now on (commands only; stored v1 receipts stay readable): a
 * receipt is v2, the credential it names is the one being provisioned, and a public key it carries is a point of its
 * curve in its one encoding (checkPublicKey, review 201), as issueCredential takes it.
 */
export const ProvisioningCommandData = CredentialProvisioned.extend({
  receipt: ProvisioningReceiptV2.extend({
    credential: ProvisioningReceiptV2.shape.credential.extend({ owner: z.strictObject(ReceiptOwner.shape) }),
  }).optional(),
});
export const provisioningRules = (d: z.infer<typeof ProvisioningCommandData>, ctx: z.RefinementCtx): void => {
  if (d.receipt !== undefined && d.receipt.credentialId !== d.credentialId) {
    ctx.addIssue({ code: 'custom', path: ['receipt', 'credentialId'], message: 'the receipt must name the credential being provisioned' });
  }
  if (d.bootstrapCredentialId !== undefined && d.bootstrapCredentialId === d.credentialId) {
    ctx.addIssue({ code: 'custom', path: ['bootstrapCredentialId'], message: 'a credential is not its own bootstrap credential' });
  }
  const credential = d.receipt?.credential;
  const key = credential?.publicKey === undefined ? undefined : tryFromBase64url(credential.publicKey);
  if (credential !== undefined && credential.kind !== 'psk256' && key !== undefined) {
    const checked = checkPublicKey(credential.kind, key);
    if (!checked.ok) ctx.addIssue({ code: 'custom', path: ['receipt', 'credential', 'publicKey'], params: { rule: checked.rule }, message: checked.message });
  }
};
export const CredentialAssociated = z.object({ credentialId: CredentialId, associationId: AssociationId });
export const CredentialAssociationReleased = z.object({ credentialId: CredentialId, associationId: AssociationId });
export const CredentialRotationStarted = z.object({
  credentialId: CredentialId,
  successorId: CredentialId,
  overlapEndsAt: Instant,
});
/**
 * A rotation given up: its successor is not taken over from this credential, which stays (until its own notAfter,
 * or another rotation). Recorded by the expiry scheduler when the overlap ends with the successor not held by the
 * node (never provisioned, or ended), or by an operator before then (HLR-212, RS-16).
 */
export const CredentialRotationAbandoned = z.object({ credentialId: CredentialId, successorId: CredentialId });
export const CredentialExpired = z.object({ credentialId: CredentialId });
export const CredentialRevoked = z.object({ credentialId: CredentialId, reason: RevocationReason });

export const credentialEvents = {
  CredentialIssued,
  CredentialProvisioned,
  CredentialAssociated,
  CredentialAssociationReleased,
  CredentialRotationStarted,
  CredentialRotationAbandoned,
  CredentialExpired,
  CredentialRevoked,
} as const;
