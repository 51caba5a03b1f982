/** The events the compliance read model takes (their rules: batch.ts). */
export const COMPLIANCE_EVENT_TYPES = [
  'NodeEnrolled',
  'NodeEnrolmentExpired',
  'NodeRevoked',
  'CredentialIssued',
  'CredentialProvisioned',
  'CredentialExpired',
  'CredentialRevoked',
  'ApplicationRevoked',
  'AssociationConfigured',
  'AssociationEstablished',
  'AssociationExpired',
  'AssociationRevoked',
  // Whether a subscription was still in force at a provisioning (review 155).
  'SubscriptionCreated',
  'SubscriptionTerminated',
  'SubscriptionExpired',
] as const;
