import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseOcspRequest, revokedCertificateDer } from '../domain/x509/revocation/index.ts';

const certId = (serial: number) =>
  new pkijs.CertID({
    hashAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: '1.3.14.3.2.26', algorithmParams: new asn1js.Null() }),
    issuerNameHash: new asn1js.OctetString({ valueHex: new Uint8Array(20).fill(1) }),
    issuerKeyHash: new asn1js.OctetString({ valueHex: new Uint8Array(20).fill(2) }),
    serialNumber: new asn1js.Integer({ value: serial }),
  });

const request = (count = 1, nonce?: Uint8Array, nonceCritical = false): Uint8Array => {
  const tbsRequest = new pkijs.TBSRequest({ requestList: Array.from({ length: count }, (_, i) => new pkijs.Request({ reqCert: certId(i + 1) })) });
  if (nonce !== undefined) {
    tbsRequest.requestExtensions = [
      new pkijs.Extension({ extnID: '1.3.6.1.5.5.7.48.1.2', critical: nonceCritical, extnValue: new asn1js.OctetString({ valueHex: nonce }).toBER() }),
    ];
  }
  return new Uint8Array(new pkijs.OCSPRequest({ tbsRequest }).toSchema(true).toBER());
};

/** A request with one extension `extnID`, in the request (RFC 6960 4.1.1 requestExtensions) or in its single request. */
const withExtension = (extnID: string, critical: boolean, where: 'request' | 'single'): Uint8Array => {
  const extension = new pkijs.Extension({ extnID, critical, extnValue: new asn1js.Null().toBER() });
  const single = new pkijs.Request({ reqCert: certId(1), ...(where === 'single' ? { singleRequestExtensions: [extension] } : {}) });
  const tbsRequest = new pkijs.TBSRequest({ requestList: [single], ...(where === 'request' ? { requestExtensions: [extension] } : {}) });
  return new Uint8Array(new pkijs.OCSPRequest({ tbsRequest }).toSchema(true).toBER());
};

describe('parsing OCSP requests (RFC 6960 4.1.1, RFC 8954)', () => {
  it('reads the CertIDs, their serials in event form, and the nonce as sent', () => {
    const parsed = parseOcspRequest(request(2, new Uint8Array(16).fill(9)));
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.request.certIds.map((c) => [c.hash, c.serialNumber])).toEqual([['sha1', '01'], ['sha1', '02']]);
    // The extnValue: an OCTET STRING of the 16 nonce octets.
    expect(Buffer.from(parsed.request.nonce!).toString('hex')).toBe(`0410${'09'.repeat(16)}`);
  });

  it.each([
    ['an empty body', new Uint8Array(0), 'empty request'],
    ['bytes after the request', new Uint8Array([...request(), 0]), 'bytes after the OCSPRequest'],
    ['no DER', new Uint8Array([0x30, 0x80, 0xff]), 'not DER'],
    ['no CertID', request(0), 'not an OCSPRequest'],
    ['33 CertIDs', request(33), 'more than 32'],
    ['an empty nonce', request(1, new Uint8Array(0)), 'nonce of 0 octets'],
    ['a 33-octet nonce', request(1, new Uint8Array(33)), 'nonce of 33 octets'],
  ])('refuses %s as malformed, saying why', (_name, der, reason) => {
    const parsed = parseOcspRequest(der);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toContain(reason);
  });

  it('accepts nonces of 1 and 32 octets', () => {
    expect(parseOcspRequest(request(1, new Uint8Array(1))).ok).toBe(true);
    expect(parseOcspRequest(request(1, new Uint8Array(32))).ok).toBe(true);
  });

  // RFC 6960 4.4 and RFC 5280 4.2: a critical extension not understood must not be ignored (it was, answered `successful`).
  it.each(['request', 'single'] as const)('refuses a critical extension it does not understand in the %s as malformed', (where) => {
    const parsed = parseOcspRequest(withExtension('1.2.3.4.5', true, where));
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toBe('critical extension "1.2.3.4.5" not understood');
  });

  it.each(['request', 'single'] as const)('ignores a non-critical extension it does not understand in the %s', (where) => {
    expect(parseOcspRequest(withExtension('1.2.3.4.5', false, where)).ok).toBe(true);
  });

  it('understands a critical nonce', () => {
    const parsed = parseOcspRequest(request(1, new Uint8Array(16).fill(3), true));
    expect(parsed.ok).toBe(true);
    if (parsed.ok) expect(parsed.request.nonce).toBeDefined();
  });

  it.each([
    ['sha1', '1.3.14.3.2.26'],
    ['sha256', '2.16.840.1.101.3.4.2.1'],
    ['sha384', '2.16.840.1.101.3.4.2.2'],
    ['sha512', '2.16.840.1.101.3.4.2.3'],
  ])('reads a CertID hashed with %s (RFC 6960 4.1.1: any hash algorithm)', (hash, oid) => {
    const id = certId(1);
    id.hashAlgorithm = new pkijs.AlgorithmIdentifier({ algorithmId: oid, algorithmParams: new asn1js.Null() });
    const der = new Uint8Array(new pkijs.OCSPRequest({ tbsRequest: new pkijs.TBSRequest({ requestList: [new pkijs.Request({ reqCert: id })] }) }).toSchema(true).toBER());
    const parsed = parseOcspRequest(der);
    expect(parsed.ok && parsed.request.certIds[0]!.hash).toBe(hash);
  });

  it('never throws on a corrupted request', () => {
    const valid = request(1, new Uint8Array(8));
    fc.assert(
      fc.property(fc.nat(valid.length - 1), fc.integer({ min: 1, max: 255 }), (at, flip) => {
        const bad = valid.slice();
        bad[at]! ^= flip;
        const parsed = parseOcspRequest(bad);
        expect(typeof parsed.ok).toBe('boolean');
      }),
      { numRuns: 300 },
    );
  });
});

describe('CRL entries (RFC 5280 5.1.2.6, 5.3.1)', () => {
  const entry = (reason: 'unspecified' | 'keyCompromise') =>
    pkijs.RevokedCertificate.fromBER(revokedCertificateDer({ serialNumber: '0102', revokedAt: Date.UTC(2026, 0, 1, 12, 0, 0, 999), reason }));

  it('carries the reason code, and none for unspecified', () => {
    expect(entry('keyCompromise').crlEntryExtensions?.extensions.map((e) => e.extnID)).toEqual(['2.5.29.21']);
    expect(entry('unspecified').crlEntryExtensions).toBeUndefined();
  });

  it('dates the revocation in whole seconds', () => {
    expect(entry('keyCompromise').revocationDate.value.toISOString()).toBe('2026-01-01T12:00:00.000Z');
  });

  it('refuses a serial that is not the event form', () => {
    expect(() => revokedCertificateDer({ serialNumber: '8001', revokedAt: 0, reason: 'keyCompromise' })).toThrow(/serialNumber/);
    expect(() => revokedCertificateDer({ serialNumber: 'ABCD', revokedAt: 0, reason: 'keyCompromise' })).toThrow(/serialNumber/);
  });
});
