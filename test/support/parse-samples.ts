/**
 * Valid values shared by the differential tests of zod's compiled and runtime parsers (stored events:
 * test/stored-compiled-schemas.test.ts; commands: test/command-parse-compiled-equals-runtime.test.ts): instants,
 * a fingerprint, base64url of a given length, a certificate summary and remote-provisioning receipts v1 and v2.
 */
export const T0 = '2026-01-01T00:00:00.000Z';
export const T1 = '2026-12-31T23:59:59.999Z';
export const FP = `sha256:${'a'.repeat(64)}`;
export const B64 = (n: number) => 'A'.repeat(n);
/** A P-256 key in its one encoding (the curve's generator, 04 ‖ X ‖ Y): a receipt's key must be a point (review 201). */
export const P256_GENERATOR = 'BGsX0fLhLEJH-Lzm5WOkQPJ3A32BLeszoPShOUXYmMKWT-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU';

export const certificate = { fingerprint: FP, subject: 'CN=meter-1', issuer: 'CN=ca', serialNumber: '01', notBefore: T0, notAfter: T1, trustAnchor: FP, der: B64(400) };
export const receiptV1 = {
  version: 1, sessionId: 's-1', enrolmentFunctionId: 'MEF-1', transcriptHash: B64(43), bootstrapFingerprint: FP,
  bootstrapProof: B64(86), credentialProof: B64(86),
  manufacturerCertificate: { fingerprint: FP, subject: 'CN=idevid', notBefore: T0, notAfter: T1, anchorFingerprint: FP },
};
export const receiptV2 = {
  version: 2, sessionId: 's-2', nodeId: 'meter-1', enrolmentFunctionId: 'MEF-1', credentialId: 'c',
  credential: { kind: 'p256', fingerprint: FP, publicKey: P256_GENERATOR, notBefore: T0, notAfter: T1, owner: { kind: 'node', id: 'meter-1' } },
  bootstrapKind: 'psk256', bootstrapFingerprint: FP, serviceParameters: { cseId: '/meter-1', m2mSubId: 'sub-1' },
  transcriptHash: B64(43), completedAt: T0, bootstrapProof: B64(86), credentialProof: B64(86),
  enrolmentFunctionSignature: { kind: 'ed25519', keyFingerprint: FP, value: B64(86) },
};
