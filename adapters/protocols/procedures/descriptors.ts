import type { CredentialDescriptor } from '../../../domain/crypto/credential.ts';
import { type LoadedEntity } from '../../../machines/index.ts';
import type { CredentialContext } from '../../../machines/index.ts';
import type { PeekedEntity } from '../../engine/index.ts';
import { recordedReceipt, type ProvisioningOutcome } from '../../../domain/protocols/index.ts';
import { fromBase64url } from '../../../domain/crypto/base64url.ts';
import { certificateSummary } from '../../../domain/x509/issuance/index.ts';

/** The credential's public description, from its snapshot and issue: what the protocols need to authenticate it. */
export const descriptorOf = (credential: Pick<PeekedEntity, 'snapshot' | 'issued'>): CredentialDescriptor | undefined => {
  // The public key and certificate recorded when the credential was issued (asymmetric kinds), as the lookup kept them.
  const { publicKey, certificate } = credential.issued ?? {};
  const c = credential.snapshot.context as CredentialContext;
  if (c.kind === undefined || c.fingerprint === undefined || c.owner === undefined) return undefined;
  const validity = { notBefore: new Date(c.notBefore).toISOString(), notAfter: new Date(c.notAfter).toISOString() };
  const owner = { kind: c.owner.kind, id: c.owner.id };
  if (c.kind === 'psk256') return { kind: 'psk256', fingerprint: c.fingerprint, validity, owner };
  if (publicKey === undefined) return undefined;
  return { kind: c.kind, fingerprint: c.fingerprint, publicKey, validity, owner, ...(certificate !== undefined ? { certificate } : {}) } as CredentialDescriptor;
};

/** A credential is usable by the protocols only while its machine would let it back an association. */
export const isWithdrawn = (credential: Pick<LoadedEntity, 'snapshot'>): boolean => {
  const state = String(credential.snapshot.value);
  return state === 'revoked' || state === 'expired' || state === 'absent';
};

/** The operational certificate (DER, base64url) the issuing CA made from the node's CSR, when one did (issue 13). */
export const certificateOf = (outcome: ProvisioningOutcome): string | undefined =>
  outcome.credential.kind === 'psk256' ? undefined : outcome.credential.certificate;

/**
 * The `issueCredential` data for a remotely provisioned credential: public facts from the outcome only, with the
 * operational certificate its issuing CA made from the node's CSR (issue 13), recorded by what identifies it.
 */
export const issuedFrom = (
  outcome: ProvisioningOutcome,
  credentialId: string,
  purpose: 'service' | 'application',
  predecessorId?: string,
) => {
  const certificate = certificateOf(outcome);
  return {
    credentialId,
    kind: outcome.credential.kind,
    purpose,
    owner: outcome.credential.owner,
    fingerprint: outcome.credential.fingerprint,
    ...(outcome.credential.kind !== 'psk256' ? { publicKey: outcome.credential.publicKey } : {}),
    notBefore: outcome.credential.validity.notBefore,
    notAfter: outcome.credential.validity.notAfter,
    ...(certificate !== undefined && outcome.issuingCa !== undefined
      ? { certificate: certificateSummary(fromBase64url(certificate), outcome.issuingCa, outcome.issuingCaCertifies) }
      : {}),
    ...(predecessorId !== undefined ? { predecessorId } : {}),
  };
};

/** The receipt that ends remote provisioning, as the `CredentialProvisioned` event records it (a v2 receipt: the statement's facts and its proofs). */
export const receiptFrom = (outcome: ProvisioningOutcome) => recordedReceipt(outcome);
