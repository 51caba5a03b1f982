import { z } from 'zod';
import { base64urlString } from '../crypto/base64url.ts';
import { CredentialDescriptor, CredentialKind, Identifier, IsoTimestamp, Validity } from '../crypto/credential.ts';
import { Fingerprint } from '../crypto/fingerprint.ts';
import {
  HASH_LENGTH,
  MAX_CERTIFICATE_CHAIN,
  MAX_CERTIFICATE_LENGTH,
  MAX_CSR_LENGTH,
  MAX_PUBLIC_KEY_LENGTH,
  MAX_WRAPPED_KEY_LENGTH,
} from '../crypto/sizes.ts';
import { Ephemeral } from './ephemeral.ts';
import { Nonce, Proof, SessionId } from './protocol.ts';
import { KeyHandle } from '../ports/secure-environment.ts';
import { CaId } from '../x509/issuing-ca.ts';
import { M2MSubId } from '../ids.ts';

/**
 * Remote provisioning through an M2M Enrolment Function (seed 003 clause 11.2.1; RS-05, RS-16, SER-020,
 * SER-021). Five messages, node (N) and Enrolment Function (E):
 *   1. N->E hello      identities, bootstrap credential, node nonce, requested credential kind, N ephemeral (PSK)
 *   2. E->N challenge  E nonce, granted validity, E ephemeral (PSK); E's proof (auth of E)
 *   3. N->E auth       N's proof (auth of N); for an asymmetric credential, the public key generated on the node
 *                      and its proof of possession
 *   4. E->N delivery   the credential descriptor, the node's service parameters (CSE-ID, M2M-Sub-ID), and the PSK
 *                      wrapped under ECDH+HKDF(transcript); E's proof
 *   5. N->E receipt    N's proofs with the bootstrap and with the new credential over the receipt statement
 *                      (provisioning-statement.ts): the facts provisioned, including the whole transcript's hash
 * Every message is absorbed into one transcript (without its own proofs); every proof covers both nonces and
 * both identities through it. Proofs are HMACs for a PSK bootstrap, signatures otherwise.
 */

export const ServiceParameters = z.strictObject({ cseId: Identifier.optional(), m2mSubId: Identifier.optional() });
export type ServiceParameters = z.infer<typeof ServiceParameters>;

export const ProvisioningHello = z
  .strictObject({
    type: z.literal('provisioning.hello'),
    version: z.literal(1),
    nodeId: Identifier,
    enrolmentFunctionId: Identifier,
    /** The id the credential will be recorded under, when the node is told it: then the receipt statement binds it. */
    credentialId: Identifier.optional(),
    /**
     * The live credential of this node the new one succeeds (rotation, HLR-212), when it does. In the hello, so every
     * proof of the run covers it: no one on the path can add, drop or change it.
     */
    predecessorId: Identifier.optional(),
    bootstrap: z.strictObject({ kind: CredentialKind, fingerprint: Fingerprint }),
    /** DER certificates, leaf first, when the bootstrap credential is a manufacturer (IDevID) certificate. */
    certificateChain: z.array(base64urlString({ max: MAX_CERTIFICATE_LENGTH })).min(1).max(MAX_CERTIFICATE_CHAIN).optional(),
    credentialKind: CredentialKind,
    ephemeral: Ephemeral.optional(),
    nodeNonce: Nonce,
    sentAt: IsoTimestamp,
  })
  .refine((m) => (m.credentialKind === 'psk256') === (m.ephemeral !== undefined), {
    message: 'an ephemeral key is required exactly when a PSK is to be delivered',
    path: ['ephemeral'],
  });
export type ProvisioningHello = z.infer<typeof ProvisioningHello>;

/**
 * Version 2: no service parameters. A hello is unauthenticated (anyone who knows a Node-ID and its bootstrap
 * credential's fingerprint, which a factory certificate shows, can send one), so the challenge tells nothing about
 * the node: version 1 gave its CSE-ID and M2M-Sub-ID to any such sender. They come in the delivery, after the node's
 * proof.
 */
export const ProvisioningChallenge = z.strictObject({
  type: z.literal('provisioning.challenge'),
  version: z.literal(2),
  sessionId: SessionId,
  nodeId: Identifier,
  enrolmentFunctionId: Identifier,
  nodeNonce: Nonce,
  enrolmentNonce: Nonce,
  credentialKind: CredentialKind,
  validity: Validity,
  ephemeral: Ephemeral.optional(),
  expiresAt: IsoTimestamp,
  proof: Proof,
});
export type ProvisioningChallenge = z.infer<typeof ProvisioningChallenge>;

export const ProvisioningAuth = z.strictObject({
  type: z.literal('provisioning.auth'),
  version: z.literal(1),
  sessionId: SessionId,
  enrolmentNonce: Nonce,
  credentialPublicKey: base64urlString({ max: MAX_PUBLIC_KEY_LENGTH }).optional(),
  proofOfPossession: Proof.optional(),
  /**
   * For an asymmetric credential: a DER PKCS#10 CSR (base64url) signed with the new key, asking the Enrolment
   * Function's issuing CA for an operational certificate (issue 13). Absorbed into the transcript like the other fields.
   */
  csr: base64urlString({ max: MAX_CSR_LENGTH }).optional(),
  proof: Proof,
});
export type ProvisioningAuth = z.infer<typeof ProvisioningAuth>;

/** Version 2: carries the node's service parameters, which version 1 gave in the challenge before the node's proof. */
export const ProvisioningDelivery = z.strictObject({
  type: z.literal('provisioning.delivery'),
  version: z.literal(2),
  sessionId: SessionId,
  credential: CredentialDescriptor,
  serviceParameters: ServiceParameters,
  wrappedKey: base64urlString({ max: MAX_WRAPPED_KEY_LENGTH }).optional(),
  proof: Proof,
});
export type ProvisioningDelivery = z.infer<typeof ProvisioningDelivery>;

/**
 * Version 2: the proofs cover the receipt statement (provisioning-statement.ts), not the bare transcript hash, and
 * `completedAt` is the node's statement of when it completed (checked fresh by the Enrolment Function).
 */
export const ProvisioningReceipt = z.strictObject({
  type: z.literal('provisioning.receipt'),
  version: z.literal(2),
  sessionId: SessionId,
  credentialFingerprint: Fingerprint,
  completedAt: IsoTimestamp,
  bootstrapProof: Proof,
  credentialProof: Proof,
});
export type ProvisioningReceipt = z.infer<typeof ProvisioningReceipt>;

/** The manufacturer certificate as verified at provisioning time (SER-SWIR-04). */
export const ManufacturerCertificateRecord = z.strictObject({
  fingerprint: Fingerprint,
  /** An X.509 distinguished name as text (RFC 4514); the same bound as CertificateSummary.subject in events. */
  subject: z.string().max(1024),
  notBefore: IsoTimestamp,
  notAfter: IsoTimestamp,
  anchorFingerprint: Fingerprint,
});

/**
 * What the Enrolment Function hands to the engine for a `CredentialProvisioned` event: public facts only.
 * `credentialKeyHandle` is the Enrolment Function's Secure Environment handle of its copy of a provisioned PSK
 * (not a secret; the engine destroys it when the credential is revoked); absent for asymmetric credentials,
 * whose private key exists only on the node. The receipt proofs are over the receipt statement of these facts
 * (provisioning-statement.ts); `enrolmentFunctionSignature` is the Enrolment Function's signature over the same
 * statement, present when it has a signing key.
 */
export const ProvisioningOutcome = z.strictObject({
  sessionId: SessionId,
  nodeId: Identifier,
  enrolmentFunctionId: Identifier,
  credentialId: Identifier.optional(),
  credential: CredentialDescriptor,
  /** The Credence CA that issued `credential.certificate`, when one did (issue 13). */
  issuingCa: CaId.optional(),
  /** The M2M Service Subscription that CA certifies, when it names one (review 355; `CertificateSummary.issuingCaCertifies`). */
  issuingCaCertifies: M2MSubId.optional(),
  /**
   * The Enrolment Function's proof over what it hands the node once the credential is recorded: the certificate, or
   * that there is none (`certificateHandover`, absorbed into the run's transcript after the receipt).
   */
  certificateProof: Proof,
  credentialKeyHandle: KeyHandle.optional(),
  bootstrapKind: CredentialKind,
  bootstrapFingerprint: Fingerprint,
  manufacturerCertificate: ManufacturerCertificateRecord.optional(),
  serviceParameters: ServiceParameters,
  transcriptHash: base64urlString(HASH_LENGTH),
  receipt: z.strictObject({
    version: z.literal(2),
    bootstrapProof: Proof,
    credentialProof: Proof,
    enrolmentFunctionSignature: z.strictObject({ kind: z.enum(['ed25519', 'p256']), keyFingerprint: Fingerprint, value: Proof }).optional(),
  }),
  completedAt: IsoTimestamp,
});
export type ProvisioningOutcome = z.infer<typeof ProvisioningOutcome>;

/**
 * What the run's transcript absorbs after the receipt, and the Enrolment Function proves (`proofFor(...,
 * 'certificate', ...)`): the certificate it hands over with the answer that the credential is recorded, or null. The
 * answer itself is not signed, so without this proof anyone on the path could strip the certificate or put another
 * CA's certificate of the node's public key in its place.
 */
export const CERTIFICATE_HANDOVER = 'provisioning.certificate';
export const certificateHandover = (certificate: string | undefined): { readonly certificate: string | null } => ({ certificate: certificate ?? null });

/** What the node keeps: its new credential's handle in its own Secure Environment and the public description. */
export interface NodeProvisioningResult {
  readonly credential: CredentialDescriptor;
  readonly handle: KeyHandle;
  readonly serviceParameters: ServiceParameters;
  readonly transcriptHash: string;
}
