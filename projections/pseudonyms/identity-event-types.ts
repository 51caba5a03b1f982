/**
 * Event types that change which node an identifier belongs to or a node's epoch, and those after which an entry of
 * the fold can no longer be named (an association's end and its releases, a credential's end, an App-ID's end), so
 * the fold lets it go (SER-001).
 */
export const IDENTITY_EVENT_TYPES = [
  'NodeRegistered',
  'NodeEnrolled',
  'NodeEnrolmentExpired',
  'NodeRevoked',
  'CredentialIssued',
  'CredentialRotationStarted',
  'CredentialRotationAbandoned',
  'CredentialExpired',
  'CredentialRevoked',
  'AssociationConfigured',
  'AssociationEstablished',
  'AssociationExpired',
  'AssociationRevoked',
  'NodeAssociationReleased',
  'CredentialAssociationReleased',
  'ApplicationInstanceReleased',
  'ApplicationRevoked',
  'PseudonymRotated',
] as const;
