export { PkiChanges } from './changes.ts';
export type { PkiListener, RevocationNotice } from './changes.ts';
export { PKI_PROJECTION, pkiProjection, pkiWritesHeldOpen } from './projection.ts';
export { certificateStanding, revocationContent, revocationsAfter } from './tables.ts';
export type { CertificateStanding, RevocationRow } from './tables.ts';
