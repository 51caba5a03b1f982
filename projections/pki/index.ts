export { PkiChanges } from './changes.ts';
export { issuedByOurCa } from './issued-by-our-ca.ts';
export type { PkiListener, RevocationNotice } from './changes.ts';
export { PKI_EVENT_TYPES, PKI_PROJECTION, pkiProjection, pkiWritesHeldOpen } from './projection.ts';
export { holderEnded } from './owner-endings.ts';
export { overlapEndOfCertificate } from './rotations.ts';
export { certificatesOfAnotherKey, certificateStanding, pkiCompleteness, revocationContent, revocationsAfter, revokedSerialsOfAnotherKey } from './tables.ts';
export type { CertificateStanding, PkiCompleteness, RevocationRow } from './tables.ts';
