import { subscriptionCertifiedBy } from '../../domain/x509/issuance/index.ts';

/**
 * The M2M Service Subscription (its M2M-Sub-ID) whose nodes the CA that issued `certificate` certifies, as
 * CredentialIssued recorded it: the one that CA names (`issuingCaCertifies`, review 355), else the one spelt as its id
 * (subscriptionCertifiedBy); none for `default`, a factory certificate or none. The one rule of the cascade's
 * revocation of a moved node's certificates (projections/cascade/under-another-subscription.ts) and of the `pki` read
 * model's revocations owed for them before it (subscription-moves.ts, review 397): here, so both import it without
 * either importing the other.
 */
export const certifiedSubscriptionOf = (
  certificate: { readonly issuingCa?: string | undefined; readonly issuingCaCertifies?: string | undefined } | undefined,
): string | undefined =>
  certificate?.issuingCa === undefined ? undefined : subscriptionCertifiedBy({ id: certificate.issuingCa, subscription: certificate.issuingCaCertifies });
