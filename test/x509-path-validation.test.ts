/**
 * RFC 5280 section 6.1 path validation of manufacturer (IDevID) chains (security issue 11, item 6): one accepted and
 * one refused chain per rule, each made here with @peculiar/x509.
 */
import { describe, expect, it } from 'vitest';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import * as asn from '@peculiar/asn1-x509';
import { generateSigningKey } from '../domain/crypto/signatures.ts';
import { TrustAnchors, verifyCertificateChain, verifyFactoryCertificate } from '../domain/x509/index.ts';
import { seededRandom } from './crypto-fixtures.ts';
import { chainRejection as rejection, der, freshKey, importPublicKey, intermediateCa, issue, rootCa, type Issuer } from './x509-fixtures.ts';
import { nameConstraints, reencodeStrings, requireExplicitPolicy, resign } from './x509-tamper.ts';

const AT = new Date('2030-01-01T00:00:00.000Z');
const random = seededRandom('x509-path');
const POLICY = '1.3.6.1.4.1.55555.1.1';


describe('RFC 5280 6.1 path validation of IDevID chains', async () => {
  const root = await rootCa();
  const anchors = TrustAnchors.fromDer([der(root.cert)]);
  const ca = await intermediateCa(root, 'CN=Acme Device CA, O=Acme');
  const verify = (certs: readonly x509.X509Certificate[], using = anchors) => verifyCertificateChain(certs.map(der), using, AT);
  const leafOf = async (issuer: Issuer, options: Partial<Parameters<typeof issue>[1]> = {}) =>
    issue(issuer, { subject: 'CN=node-0001, O=Acme Meters', publicKey: await freshKey(), ...options });
  const chainOf = async (depth: number, options: Parameters<typeof intermediateCa>[3] = {}): Promise<Issuer[]> => {
    const cas: Issuer[] = [];
    for (let i = 0; i < depth; i++) cas.push(await intermediateCa(cas[i - 1] ?? root, `CN=Acme CA level ${i + 1}, O=Acme`, undefined, options));
    return cas;
  };

  describe('path building from unordered intermediates, with a depth limit', () => {
    it('accepts intermediates in any order, among unrelated ones and a same-named impostor', async () => {
      const [first, second] = await chainOf(2);
      const unrelated = await intermediateCa(await rootCa('CN=Other Root'), 'CN=Other CA');
      const impostor = await intermediateCa(root, second!.cert.subject, '2026-01-01'); // same name, other key, expired
      const leaf = await leafOf(second!);
      const verified = await verify([leaf, unrelated.cert, impostor.cert, first!.cert, second!.cert]);
      expect(verified.anchor.subject).toBe(root.cert.subject);
    });

    it('refuses a path deeper than the limit: path_too_long', async () => {
      const cas = await chainOf(5);
      const leaf = await leafOf(cas[4]!);
      expect(await rejection(() => verify([leaf, ...cas.map((c) => c.cert).reverse()]))).toBe('path_too_long');
      const nine = Array.from({ length: 8 }, () => cas[0]!.cert);
      expect(await rejection(() => verify([leaf, ...nine]))).toBe('path_too_long');
    });
  });

  describe('pathLenConstraint', () => {
    it('accepts one intermediate below a CA with pathLenConstraint 1', async () => {
      const top = await intermediateCa(root, 'CN=Acme Policy CA', undefined, { pathLength: 1 });
      const below = await intermediateCa(top, 'CN=Acme Issuing CA');
      expect((await verify([await leafOf(below), below.cert, top.cert])).issuer).toBe('CN=Acme Issuing CA');
    });

    it('refuses an intermediate below a CA with pathLenConstraint 0: path_length_exceeded', async () => {
      const top = await intermediateCa(root, 'CN=Acme Policy CA', undefined, { pathLength: 0 });
      const below = await intermediateCa(top, 'CN=Acme Issuing CA');
      expect(await rejection(async () => verify([await leafOf(below), below.cert, top.cert]))).toBe('path_length_exceeded');
    });
  });

  describe('basicConstraints critical on CAs', () => {
    it('accepts an intermediate whose basicConstraints is critical', async () => {
      const critical = await intermediateCa(root, 'CN=Acme Critical CA', undefined, { basicConstraintsCritical: true });
      expect((await verify([await leafOf(critical), critical.cert])).issuer).toBe('CN=Acme Critical CA');
    });

    it('refuses an intermediate whose basicConstraints is not critical: basic_constraints_not_critical', async () => {
      const lax = await intermediateCa(root, 'CN=Acme Lax CA', undefined, { basicConstraintsCritical: false });
      expect(await rejection(async () => verify([await leafOf(lax), lax.cert]))).toBe('basic_constraints_not_critical');
    });
  });

  describe('the leaf is not a CA (cA=false)', () => {
    it('accepts a leaf with basicConstraints cA=false', async () => {
      const leaf = await leafOf(ca, {
        extensions: [new x509.BasicConstraintsExtension(false, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
      });
      expect((await verify([leaf, ca.cert])).subject).toBe('CN=node-0001, O=Acme Meters');
    });

    it('refuses a CA certificate presented as the leaf: leaf_is_ca', async () => {
      const leaf = await leafOf(ca, { ca: true });
      expect(await rejection(() => verify([leaf, ca.cert]))).toBe('leaf_is_ca');
    });
  });

  describe('key usage of the leaf for device authentication', () => {
    it('accepts a leaf whose keyUsage is digitalSignature', async () => {
      expect((await verify([await leafOf(ca), ca.cert])).subject).toBe('CN=node-0001, O=Acme Meters');
    });

    it('refuses a leaf whose keyUsage lacks digitalSignature: leaf_key_usage', async () => {
      const leaf = await leafOf(ca, { extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyEncipherment, true)] });
      expect(await rejection(() => verify([leaf, ca.cert]))).toBe('leaf_key_usage');
    });
  });

  describe('extended key usage of the leaf for device authentication', () => {
    const usages = (eku: string[]) => [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true), new x509.ExtendedKeyUsageExtension(eku)];

    it('accepts a leaf whose extKeyUsage includes clientAuth', async () => {
      const leaf = await leafOf(ca, { extensions: usages([x509.ExtendedKeyUsage.clientAuth]) });
      expect((await verify([leaf, ca.cert])).subject).toBe('CN=node-0001, O=Acme Meters');
    });

    it('refuses a leaf whose extKeyUsage is serverAuth only: leaf_extended_key_usage', async () => {
      const leaf = await leafOf(ca, { extensions: usages([x509.ExtendedKeyUsage.serverAuth]) });
      expect(await rejection(() => verify([leaf, ca.cert]))).toBe('leaf_extended_key_usage');
    });
  });

  describe('unknown critical extensions, on every certificate including anchors', () => {
    const unknown = (critical: boolean) => new x509.Extension('1.3.6.1.4.1.55555.9', critical, Uint8Array.from([0x05, 0x00]));

    it('accepts an unknown extension that is not critical, on the leaf and on the anchor', async () => {
      const marked = await rootCa('CN=Marked Root', undefined, undefined, { extraExtensions: [unknown(false)] });
      const leaf = await leafOf(marked, { extraExtensions: [unknown(false)] });
      expect((await verify([leaf], TrustAnchors.fromDer([der(marked.cert)]))).anchor.subject).toBe('CN=Marked Root');
    });

    it('refuses an unknown critical extension on the leaf, an intermediate or an anchor: unknown_critical_extension', async () => {
      const leaf = await leafOf(ca, { extraExtensions: [unknown(true)] });
      expect(await rejection(() => verify([leaf, ca.cert]))).toBe('unknown_critical_extension');
      const odd = await intermediateCa(root, 'CN=Odd CA', undefined, { extraExtensions: [unknown(true)] });
      expect(await rejection(async () => verify([await leafOf(odd), odd.cert]))).toBe('unknown_critical_extension');
      const oddRoot = await rootCa('CN=Odd Root', undefined, undefined, { extraExtensions: [unknown(true)] });
      expect(await rejection(async () => TrustAnchors.fromDer([der(oddRoot.cert)]))).toBe('unknown_critical_extension');
    });
  });

  describe('name constraints', () => {
    const constrained = intermediateCa(root, 'CN=Acme Constrained CA, O=Acme', undefined, {
      extraExtensions: [nameConstraints({ permittedDirectory: 'C=DE, O=Acme Meters', excludedDns: 'evil.example' })],
    });

    it('accepts a leaf whose subject lies within the permitted subtree', async () => {
      const issuer = await constrained;
      const leaf = await leafOf(issuer, { subject: 'C=DE, O=Acme Meters, CN=node-0001' });
      expect((await verify([leaf, issuer.cert])).subject).toBe('C=DE, O=Acme Meters, CN=node-0001');
    });

    it('refuses a leaf outside the permitted subtree, or inside an excluded one: name_constraints_violated', async () => {
      const issuer = await constrained;
      const outside = await leafOf(issuer, { subject: 'C=FR, O=Evil Meters, CN=node-0002' });
      expect(await rejection(() => verify([outside, issuer.cert]))).toBe('name_constraints_violated');
      const excluded = await leafOf(issuer, {
        subject: 'C=DE, O=Acme Meters, CN=node-0003',
        extraExtensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'node.evil.example' }])],
      });
      expect(await rejection(() => verify([excluded, issuer.cert]))).toBe('name_constraints_violated');
    });
  });

  describe('policy constraints', () => {
    const policyCa = intermediateCa(root, 'CN=Acme Policy CA', undefined, {
      extraExtensions: [new x509.CertificatePolicyExtension([POLICY]), requireExplicitPolicy()],
    });

    it('accepts a leaf asserting the policy an explicit-policy CA requires', async () => {
      const issuer = await policyCa;
      const leaf = await leafOf(issuer, { extraExtensions: [new x509.CertificatePolicyExtension([POLICY])] });
      expect((await verify([leaf, issuer.cert])).issuer).toBe('CN=Acme Policy CA');
    });

    it('refuses a leaf asserting no policy below requireExplicitPolicy 0: policy_constraints_violated', async () => {
      const issuer = await policyCa;
      expect(await rejection(async () => verify([await leafOf(issuer), issuer.cert]))).toBe('policy_constraints_violated');
      const other = await leafOf(issuer, { extraExtensions: [new x509.CertificatePolicyExtension(['1.3.6.1.4.1.55555.1.2'])] });
      expect(await rejection(() => verify([other, issuer.cert]))).toBe('policy_constraints_violated');
    });
  });

  describe('inner and outer signature algorithms equal', () => {
    it('accepts a re-signed certificate whose algorithms agree', async () => {
      const leaf = await resign(await leafOf(ca), ca.keys.privateKey, () => undefined);
      expect((await verify([leaf, ca.cert])).subject).toBe('CN=node-0001, O=Acme Meters');
    });

    it('refuses tbsCertificate.signature naming another algorithm than signatureAlgorithm: signature_algorithm_mismatch', async () => {
      const leaf = await resign(await leafOf(ca), ca.keys.privateKey, (tbs) => {
        tbs.signature = new asn.AlgorithmIdentifier({ algorithm: '1.2.840.10045.4.3.3' }); // ecdsa-with-SHA384
      });
      expect(await rejection(() => verify([leaf, ca.cert]))).toBe('signature_algorithm_mismatch');
    });
  });

  describe('minimum issuer key sizes', () => {
    it('accepts RSA-2048 and Ed25519 issuers', async () => {
      const rsa = await intermediateCa(root, 'CN=Acme RSA CA', undefined, { kind: 'rsa2048' });
      expect((await verify([await leafOf(rsa), rsa.cert])).issuer).toBe('CN=Acme RSA CA');
      const edRoot = await rootCa('CN=Acme Ed25519 Root', undefined, undefined, { kind: 'ed25519' });
      const edCa = await intermediateCa(edRoot, 'CN=Acme Ed25519 CA', undefined, { kind: 'ed25519' });
      const { publicKey } = generateSigningKey('ed25519', random);
      const leaf = await leafOf(edCa, { publicKey: await importPublicKey('ed25519', publicKey) });
      const verified = await verify([leaf, edCa.cert], TrustAnchors.fromDer([der(edRoot.cert)]));
      expect(verified.publicKey).toEqual({ kind: 'ed25519', bytes: publicKey });
    });

    it('refuses an RSA-1024 issuer: weak_issuer_key', async () => {
      const weak = await intermediateCa(root, 'CN=Acme Weak CA', undefined, { kind: 'rsa1024' });
      expect(await rejection(async () => verify([await leafOf(weak), weak.cert]))).toBe('weak_issuer_key');
    });
  });

  describe('name chaining on the encoded names', () => {
    it('accepts an issuer name encoded exactly as the issuer subject', async () => {
      const leaf = await resign(await leafOf(ca), ca.keys.privateKey, () => undefined);
      expect((await verify([leaf, ca.cert])).issuer).toBe(ca.cert.subject);
    });

    it('refuses an issuer name equal only as text (UTF8String for PrintableString): issuer_name_mismatch', async () => {
      const leaf = await resign(await leafOf(ca), ca.keys.privateKey, (tbs) => reencodeStrings(tbs.issuer));
      expect(leaf.issuer).toBe(ca.cert.subject);
      expect(await rejection(() => verify([leaf, ca.cert]))).toBe('issuer_name_mismatch');
    });
  });

  describe('profile: serial number', () => {
    it('accepts a positive serial number of 20 octets', async () => {
      const leaf = await leafOf(ca, { serialNumber: `7f${'ab'.repeat(19)}` });
      expect((await verify([leaf, ca.cert])).serialNumber).toBe(`7f${'ab'.repeat(19)}`);
    });

    it('refuses a serial number of 21 octets, or a negative one: bad_serial_number', async () => {
      const long = await leafOf(ca, { serialNumber: `7f${'ab'.repeat(20)}` });
      expect(await rejection(() => verify([long, ca.cert]))).toBe('bad_serial_number');
      const negative = await resign(await leafOf(ca), ca.keys.privateKey, (tbs) => {
        tbs.serialNumber = Uint8Array.from([0xff, 0x01]).buffer;
      });
      expect(await rejection(() => verify([negative, ca.cert]))).toBe('bad_serial_number');
    });
  });

  describe('profile: version', () => {
    it('accepts a version 3 certificate', async () => {
      expect((await leafOf(ca)).rawData.byteLength).toBeGreaterThan(0);
      expect((await verify([await leafOf(ca), ca.cert])).subject).toBe('CN=node-0001, O=Acme Meters');
    });

    it('refuses a version 1 certificate carrying extensions: bad_version', async () => {
      const v1 = await resign(await leafOf(ca), ca.keys.privateKey, (tbs) => {
        tbs.version = asn.Version.v1;
      });
      expect(await rejection(() => verify([v1, ca.cert]))).toBe('bad_version');
    });
  });

  describe('profile: duplicate extensions', () => {
    it('accepts each extension once', async () => {
      const leaf = await leafOf(ca, { extraExtensions: [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth])] });
      expect((await verify([leaf, ca.cert])).subject).toBe('CN=node-0001, O=Acme Meters');
    });

    it('refuses the same extension twice: duplicate_extension', async () => {
      const usage = new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true);
      const leaf = await leafOf(ca, { extensions: [usage, usage] });
      expect(await rejection(() => verify([leaf, ca.cert]))).toBe('duplicate_extension');
    });
  });

  describe('profile: authority and subject key identifiers', () => {
    it('accepts an authorityKeyIdentifier naming the issuer subjectKeyIdentifier', async () => {
      const leaf = await leafOf(ca);
      expect(leaf.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId).toBe(ca.cert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId);
      expect((await verify([leaf, ca.cert])).subject).toBe('CN=node-0001, O=Acme Meters');
    });

    it('refuses a mismatched or missing key identifier: key_identifier_mismatch, missing_key_identifier', async () => {
      const wrong = await leafOf(ca, {
        omitAuthorityKeyIdentifier: true,
        extraExtensions: [new x509.AuthorityKeyIdentifierExtension('00112233445566778899aabbccddeeff00112233')],
      });
      expect(await rejection(() => verify([wrong, ca.cert]))).toBe('key_identifier_mismatch');
      const missing = await leafOf(ca, { omitAuthorityKeyIdentifier: true });
      expect(await rejection(() => verify([missing, ca.cert]))).toBe('missing_key_identifier');
    });
  });

  describe('the factory certificate preProvision records', () => {
    it('accepts a chain to a configured anchor that certifies the bootstrap key', async () => {
      const { publicKey } = generateSigningKey('p256', random);
      const leaf = await leafOf(ca, { publicKey: await importPublicKey('p256', publicKey) });
      const recorded = await verifyFactoryCertificate([der(leaf), der(ca.cert)], anchors, AT, { kind: 'p256', bytes: publicKey });
      expect(recorded.subject).toBe('CN=node-0001, O=Acme Meters');
    });

    it('refuses another key, an unverifiable chain, or no anchors: certified_key_mismatch, unknown_trust_anchor', async () => {
      const { publicKey } = generateSigningKey('p256', random);
      const leaf = await leafOf(ca);
      const chain = [der(leaf), der(ca.cert)];
      expect(await rejection(() => verifyFactoryCertificate(chain, anchors, AT, { kind: 'p256', bytes: publicKey }))).toBe('certified_key_mismatch');
      const strangers = TrustAnchors.fromDer([der((await rootCa('CN=Stranger Root')).cert)]);
      expect(await rejection(() => verifyFactoryCertificate(chain, strangers, AT, { kind: 'p256', bytes: publicKey }))).toBe('unknown_trust_anchor');
      expect(await rejection(() => verifyFactoryCertificate(chain, undefined, AT, { kind: 'p256', bytes: publicKey }))).toBe('unknown_trust_anchor');
    });
  });

  it('malformed input is a typed rejection, never an untyped throw', async () => {
    const truncated = der(await leafOf(ca)).slice(0, 100);
    expect(await rejection(() => verifyCertificateChain([truncated, der(ca.cert)], anchors, AT))).toBe('malformed_certificate');
    const leaf = der(await leafOf(ca));
    expect(await rejection(() => verifyCertificateChain([leaf, Uint8Array.of(0x30, 0x80)], anchors, AT))).toBe('malformed_certificate');
  });
});
