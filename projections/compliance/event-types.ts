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
] as const;
