import { z } from 'zod';
import { base64urlString } from '../../../domain/crypto/base64url.ts';
import { CredentialKind, Identifier, IsoTimestamp } from '../../../domain/crypto/credential.ts';
import { Fingerprint } from '../../../domain/crypto/fingerprint.ts';
import { MAX_CERTIFICATE_LENGTH, MAX_PUBLIC_KEY_LENGTH } from '../../../domain/crypto/sizes.ts';
import { PositionString } from '../../../domain/positions.ts';
import { Proof } from '../../../domain/protocols/protocol.ts';

/**
 * What the infrastructure's endpoints say beyond the protocol messages (domain/protocols), to a device across a
 * connection: whom to pin, and what a verified receipt or finish recorded. Public facts only.
 */

/** An Enrolment Function or a Registrar CSE as a device pins it (seed 003 11.2.1 and 11.3.1): its id and public key. */
export const PinnedResponder = z.strictObject({
  id: Identifier,
  publicKey: z.strictObject({ kind: z.enum(['ed25519', 'p256']), publicKey: base64urlString({ max: MAX_PUBLIC_KEY_LENGTH }) }),
  fingerprint: Fingerprint,
});
export type PinnedResponder = z.infer<typeof PinnedResponder>;

/**
 * The answer to a verified receipt: the credential is recorded as provisioned (`CredentialProvisioned`). Not strict:
 * a device ignores fields a later server adds, since refusing the answer would come after the credential is recorded
 * (and destroy the key the record names).
 */
export const ProvisioningRecorded = z.object({
  type: z.literal('provisioning.recorded'),
  credentialId: Identifier,
  nodeId: Identifier,
  kind: CredentialKind,
  fingerprint: Fingerprint,
  predecessorId: Identifier.optional(),
  /**
   * The operational certificate the issuing CA made from the node's CSR (DER, base64url), when one did: signed once
   * the receipt was verified and given only now that `CredentialIssued` records it (issue 13).
   */
  certificate: base64urlString({ max: MAX_CERTIFICATE_LENGTH }).optional(),
  /** The Enrolment Function's proof over `certificate`, or over its absence (NodeProvisioningSession.acceptCertificate). */
  certificateProof: Proof,
  /** The global position of `CredentialProvisioned`, a decimal string. */
  position: PositionString,
  completedAt: IsoTimestamp,
});
export type ProvisioningRecorded = z.infer<typeof ProvisioningRecorded>;

/**
 * Remote provisioning over a connection may link the new credential to the one it succeeds (HLR-212). The hello
 * carries it, under its proofs; the request may repeat it (older clients sent it there only) but not differ.
 */
export const ProvisioningHelloQuery = z.strictObject({ predecessorId: Identifier.optional() });
export type ProvisioningHelloQuery = z.infer<typeof ProvisioningHelloQuery>;

/** The association a handshake over a connection is for (configured by an operator, 11.3.1). */
export const AssociationPath = z.strictObject({ associationId: Identifier });
