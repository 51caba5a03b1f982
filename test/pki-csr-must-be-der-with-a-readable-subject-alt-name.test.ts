/**
 * docs/pki.md: a CSR is "one DER CertificationRequest v1", otherwise `malformed_csr` (adversarial review, D7). asn1js
 * reads BER: an outer SEQUENCE with a non-minimal or an indefinite length was accepted (the signature covers only the
 * CertificationRequestInfo, so anyone can re-wrap a node's CSR). And pkijs hands back an empty AltName with
 * `parsingError` for a subjectAltName it cannot parse: a subjectAltName that is an INTEGER, or an empty one (against
 * GeneralNames SIZE (1..MAX), RFC 5280 4.2.1.6), was accepted as "no names".
 */
import { describe, expect, it } from 'vitest';
import { checkCsrNamesNode, nodeUris, subjectAltNameUris, verifyCertificationRequest } from '../domain/x509/issuance/index.ts';
import { handMadeCsr, rawExtension, SUBJECT_ALT_NAME } from './pki-csr-hand-made.ts';
import { hasOpenssl, OpenSslDir } from './support/openssl.ts';

/** The same CSR with its outer SEQUENCE's header replaced (the content, and so the signature, unchanged). */
const rewrapped = (csr: Uint8Array, header: (length: number) => number[], trailer: number[] = []): Uint8Array => {
  const headerLength = csr[1]! < 0x80 ? 2 : 2 + (csr[1]! & 0x7f);
  const content = csr.subarray(headerLength);
  return Uint8Array.from([...header(content.length), ...content, ...trailer]);
};

describe('a CSR is one DER CertificationRequest, and every requested extension is readable', () => {
  const good = handMadeCsr({});

  it('the well-formed hand-made CSR passes (the control)', () => {
    expect(good[0]).toBe(0x30);
    expect(good[1]).toBe(0x81); // 128 to 255 bytes: a one-octet long-form length
    expect(verifyCertificationRequest(good)).toMatchObject({ ok: true, value: { altNames: [{ type: 6, value: 'urn:onem2m:node:meter-7' }] } });
  });

  it.each([
    ['a non-minimal outer length (30 83 00 LL LL)', rewrapped(good, (n) => [0x30, 0x83, 0x00, n >> 8, n & 0xff]), 'not DER: length not in the fewest octets'],
    ['an indefinite outer length (30 80 ... 00 00)', rewrapped(good, () => [0x30, 0x80], [0x00, 0x00]), 'not DER: indefinite length'],
  ])('refuses %s as malformed_csr', (_what, csr, detail) => {
    expect(verifyCertificationRequest(csr)).toEqual({ ok: false, reason: 'malformed_csr', detail });
  });

  it.each([
    ['a subjectAltName that is INTEGER 1', [rawExtension(SUBJECT_ALT_NAME, [0x02, 0x01, 0x01])], 'not its ASN.1 type'],
    ['an empty subjectAltName SEQUENCE {}', [rawExtension(SUBJECT_ALT_NAME, [0x30, 0x00])], 'no name'],
    ['a subjectAltName followed by stray bytes', [rawExtension(SUBJECT_ALT_NAME, [0x30, 0x03, 0x86, 0x01, 0x78, 0x00, 0x00])], 'more than one value'],
    ['a requested basicConstraints that is INTEGER 1', [subjectAltNameUris(nodeUris({ nodeId: 'meter-7' }), false), rawExtension('2.5.29.19', [0x02, 0x01, 0x01])], 'not its ASN.1 type'],
  ])('refuses a correctly signed CSR with %s as malformed_csr', (_what, extensions, why) => {
    const checked = verifyCertificationRequest(handMadeCsr({ extensions }));
    expect(checked).toMatchObject({ ok: false, reason: 'malformed_csr' });
    expect(!checked.ok && checked.detail).toMatch(new RegExp(`^requested extension "2\\.5\\.29\\.(17|19)": ${why}$`));
  });

  it('a CN-only CSR whose subjectAltName is unreadable no longer passes the name check as one naming only the node', () => {
    const checked = verifyCertificationRequest(handMadeCsr({ extensions: [rawExtension(SUBJECT_ALT_NAME, [0x02, 0x01, 0x01])] }));
    const named = checked.ok ? checkCsrNamesNode(checked.value, { nodeId: 'meter-7' }) : checked;
    expect(named.ok).toBe(false);
  });

  it.runIf(hasOpenssl())('an openssl req CSR with a subjectAltName is DER and passes', async () => {
    const files = new OpenSslDir();
    try {
      const key = await files.genkey('p256.pem', 'p256');
      const csr = await files.csr(key, '/CN=meter-7/O=Acme', ['-addext', 'subjectAltName=URI:urn:onem2m:node:meter-7', '-addext', 'keyUsage=digitalSignature']);
      expect(verifyCertificationRequest(csr)).toMatchObject({ ok: true });
    } finally {
      files.remove();
    }
  });
});
