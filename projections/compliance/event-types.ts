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
  // An App-ID's enrolment ended: the associations made under it must end too (review 249, dangling-associations).
  'ApplicationEnrolmentEnded',
  'AssociationConfigured',
  'AssociationEstablished',
  'AssociationExpired',
  'AssociationRevoked',
  // When a credential's revocation occurred (review 197): its rotation under way, its node's late lapse.
  'CredentialRotationStarted',
  'CredentialRotationAbandoned',
  // Whether a subscription was still in force at a provisioning (review 155).
  'SubscriptionCreated',
  'SubscriptionTerminated',
  'SubscriptionExpired',
] as const;
