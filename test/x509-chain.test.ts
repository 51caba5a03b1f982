import { describe, expect, it } from 'vitest';
import { generateSigningKey } from '../domain/crypto/signatures.ts';
import { certificateFingerprint, publicKeyFingerprint } from '../domain/crypto/fingerprint.ts';
import { TrustAnchors, verifyCertificateChain } from '../domain/x509/chain.ts';
import { seededRandom, toBase64url } from './crypto-fixtures.ts';
import { chainRejection as rejection, der, freshKey, importPublicKey, intermediateCa, issue, rootCa } from './x509-fixtures.ts';

const AT = new Date('2030-01-01T00:00:00.000Z');
const random = seededRandom('x509');


describe('IDevID chain verification (SER-SWIR-04)', async () => {
  const root = await rootCa();
  const intermediate = await intermediateCa(root, 'CN=Acme Meters Device CA 1, O=Acme');
  const anchors = TrustAnchors.fromDer([der(root.cert)]);

  for (const kind of ['p256', 'ed25519'] as const) {
    it(`${kind}: a leaf through an intermediate to a configured root yields fingerprint, subject, validity and key`, async () => {
      const { publicKey } = generateSigningKey(kind, random);
      const leaf = await issue(intermediate, { subject: 'CN=node-0001, O=Acme Meters', publicKey: await importPublicKey(kind, publicKey) });
      const verified = await verifyCertificateChain([der(leaf), der(intermediate.cert)], anchors, AT);
      expect(verified).toMatchObject({
        fingerprint: certificateFingerprint(der(leaf)),
        subject: 'CN=node-0001, O=Acme Meters',
        issuer: 'CN=Acme Meters Device CA 1, O=Acme',
        notBefore: '2021-01-01T00:00:00.000Z',
        notAfter: '2041-01-01T00:00:00.000Z',
        publicKey: { kind, bytes: publicKey },
        anchor: { fingerprint: certificateFingerprint(der(root.cert)), subject: root.cert.subject },
      });
      expect(publicKeyFingerprint(kind, verified.publicKey.bytes)).toMatch(/^sha256:/);
    });
  }

  it('a leaf issued directly by the root verifies without intermediates', async () => {
    const leaf = await issue(root, { subject: 'CN=node-0002', publicKey: await freshKey() });
    expect((await verifyCertificateChain([der(leaf)], anchors, AT)).subject).toBe('CN=node-0002');
  });

  it('refuses a chain ending at a root that is not configured: unknown_trust_anchor', async () => {
    const otherRoot = await rootCa('CN=Someone Else Root CA');
    const leaf = await issue(otherRoot, { subject: 'CN=node-0003', publicKey: await freshKey() });
    expect(await rejection(() => verifyCertificateChain([der(leaf)], anchors, AT))).toBe('unknown_trust_anchor');
    expect(await rejection(() => verifyCertificateChain([der(leaf), der(otherRoot.cert)], anchors, AT))).toBe('unknown_trust_anchor');
  });

  it('refuses an expired manufacturer certificate, and one not yet valid', async () => {
    const expired = await issue(intermediate, { subject: 'CN=node-old', publicKey: await freshKey(), notAfter: '2025-01-01' });
    expect(await rejection(() => verifyCertificateChain([der(expired), der(intermediate.cert)], anchors, AT))).toBe('certificate_expired');
    const early = await issue(intermediate, { subject: 'CN=node-new', publicKey: await freshKey(), notBefore: '2035-01-01' });
    expect(await rejection(() => verifyCertificateChain([der(early), der(intermediate.cert)], anchors, AT))).toBe('certificate_not_yet_valid');
  });

  it('refuses a chain whose intermediate has expired', async () => {
    const oldCa = await intermediateCa(root, 'CN=Acme Old Device CA', '2026-01-01');
    const leaf = await issue(oldCa, { subject: 'CN=node-0004', publicKey: await freshKey(), notAfter: '2040-01-01' });
    expect(await rejection(() => verifyCertificateChain([der(leaf), der(oldCa.cert)], anchors, AT))).toBe('certificate_expired');
  });

  it('refuses a certificate naming the CA as issuer but signed by another key: bad_certificate_signature', async () => {
    const forger = await rootCa('CN=Forger');
    const forged = await issue(intermediate, { subject: 'CN=node-0005', publicKey: await freshKey(), signingKey: forger.keys.privateKey });
    expect(await rejection(() => verifyCertificateChain([der(forged), der(intermediate.cert)], anchors, AT))).toBe('bad_certificate_signature');
    const forgedAtRoot = await issue(root, { subject: 'CN=node-0006', publicKey: await freshKey(), signingKey: forger.keys.privateKey });
    expect(await rejection(() => verifyCertificateChain([der(forgedAtRoot)], anchors, AT))).toBe('bad_certificate_signature');
  });

  it('refuses a leaf certificate used as an issuer: issuer_not_ca', async () => {
    const keys = await rootCa('CN=throwaway');
    const notCa = await issue(root, { subject: 'CN=Not A CA', publicKey: keys.keys.publicKey });
    const leaf = await issue({ cert: notCa, keys: keys.keys }, { subject: 'CN=node-0007', publicKey: await freshKey() });
    expect(await rejection(() => verifyCertificateChain([der(leaf), der(notCa)], anchors, AT))).toBe('issuer_not_ca');
  });

  it('reads trust anchors from configuration, refusing an empty list or a non-CA anchor', async () => {
    const fromConfig = TrustAnchors.fromConfig([toBase64url(der(root.cert))]);
    const leaf = await issue(root, { subject: 'CN=node-0008', publicKey: await freshKey() });
    expect((await verifyCertificateChain([der(leaf)], fromConfig, AT)).anchor.subject).toBe(root.cert.subject);
    expect(() => TrustAnchors.fromConfig([])).toThrow(/invalid trust anchors/);
    expect(() => TrustAnchors.fromConfig(['not base64url!'])).toThrow(/trustAnchors\.0/);
    expect(await rejection(async () => TrustAnchors.fromConfig([toBase64url(der(leaf))]))).toBe('issuer_not_ca');
  });

  it('refuses bytes that are not a certificate: malformed_certificate', async () => {
    expect(await rejection(() => verifyCertificateChain([new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01])], anchors, AT))).toBe('malformed_certificate');
  });
});
