/**
 * Review 171 (B): RFC 6960 A.1 and 4.1.1 ask for a DER OCSPRequest of version v1, and DER omits a DEFAULT value
 * (X.690 11.5). The parser only checked that every byte was read, so BER spellings (an indefinite or non-minimal
 * length) and an explicit version (v1, v2, v6) were answered `successful`; over GET each got the cached answer under
 * a URL no standard client sends. Each is answered `malformedRequest` now, over POST and GET.
 */
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OCSP_NONCE_OID, parseOcspRequest } from '../domain/x509/revocation/index.ts';
import { ocspRequest, ocspStatus } from './support/ocsp-client.ts';
import { issueCertifiedCredential, pkiOf, startPkiService } from './support/pki-test-ca.ts';
import type { TestService } from './support/service.ts';
import { hasOpenssl, OpenSslDir, pem } from './support/openssl.ts';

/** The content octets of the DER value `der` (one TLV, tag in one octet). */
const contentOf = (der: Uint8Array): Uint8Array => {
  const lengthOctet = der[1]!;
  return der.subarray(2 + (lengthOctet < 0x80 ? 0 : lengthOctet & 0x7f));
};
/** A SEQUENCE of `content` in DER (content under 256 octets here). */
const sequence = (content: Uint8Array): Uint8Array =>
  Uint8Array.from([0x30, ...(content.length < 0x80 ? [content.length] : [0x81, content.length]), ...content]);

/** The request `template` with its tbsRequest re-encoded by pkijs after `edit`. */
const withTbs = (template: Uint8Array, edit: (tbs: asn1js.Sequence) => void): Uint8Array => {
  const tbs = pkijs.OCSPRequest.fromBER(Uint8Array.from(template)).tbsRequest.toSchema(true) as asn1js.Sequence;
  edit(tbs);
  return new Uint8Array(new asn1js.Sequence({ value: [tbs] }).toBER());
};
const withVersion = (template: Uint8Array, version: number): Uint8Array =>
  withTbs(template, (tbs) => tbs.valueBlock.value.unshift(new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value: [new asn1js.Integer({ value: version })] })));

/** The BER and non-DER spellings of `der`, each read by a BER parser as the same request. */
const notDer = (der: Uint8Array): [string, Uint8Array, string][] => {
  const content = contentOf(der);
  expect(content.length).toBeLessThan(0x80); // so that `30 81 LL` is not DER either
  const tbs = content; // no optionalSignature: the tbsRequest is the whole content
  return [
    ['an indefinite outer length (30 80 ... 00 00)', Uint8Array.from([0x30, 0x80, ...content, 0, 0]), 'not DER: indefinite length'],
    ['a short outer length in two octets (30 81 LL)', Uint8Array.from([0x30, 0x81, content.length, ...content]), 'not DER: length not in the fewest octets'],
    ['a short outer length in three octets (30 82 00 LL)', Uint8Array.from([0x30, 0x82, 0, content.length, ...content]), 'not DER: length not in the fewest octets'],
    ['an indefinite length of the tbsRequest', sequence(Uint8Array.from([0x30, 0x80, ...contentOf(tbs), 0, 0])), 'not DER: indefinite length'],
    ['an explicit version v1 (DEFAULT, omitted in DER)', withVersion(der, 0), 'explicit version 1'],
    ['version 1 (v2)', withVersion(der, 1), 'explicit version 2'],
    ['version 5 (v6)', withVersion(der, 5), 'explicit version 6'],
    [
      'a nonce extension with an explicit critical FALSE (DEFAULT, omitted in DER)',
      withTbs(der, (tbs) =>
        tbs.valueBlock.value.push(
          new asn1js.Constructed({
            idBlock: { tagClass: 3, tagNumber: 2 },
            value: [
              new asn1js.Sequence({
                value: [
                  new asn1js.Sequence({
                    value: [
                      new asn1js.ObjectIdentifier({ value: OCSP_NONCE_OID }),
                      new asn1js.Boolean({ value: false }),
                      new asn1js.OctetString({ valueHex: new asn1js.OctetString({ valueHex: new Uint8Array(16).fill(5) }).toBER() }),
                    ],
                  }),
                ],
              }),
            ],
          }),
        ),
      ),
      'explicit critical FALSE',
    ],
  ];
};

describe('an OCSP request not in DER', () => {
  let svc: TestService;
  let der: Uint8Array;
  beforeAll(async () => {
    svc = await startPkiService('p256');
    const leaf = await issueCertifiedCredential(svc, 'cred-ocsp-der');
    // SHA-1 issuer hashes keep the request's content under 128 octets (a one-octet DER length).
    der = await ocspRequest(leaf, pkiOf(svc).cas[0]!, 'SHA-1');
  }, 60_000);
  const files = new OpenSslDir('credence-ocsp-der-');
  afterAll(async () => {
    await svc?.close();
    files.remove();
  });

  /** The OCSPResponseStatus, or the first certStatus of a successful answer. */
  const statusOf = async (reply: Response): Promise<string> => {
    expect(reply.status).toBe(200);
    const body = new Uint8Array(await reply.arrayBuffer());
    const status = pkijs.OCSPResponse.fromBER(body).responseStatus.valueBlock.valueDec;
    return status === 0 ? ocspStatus(body) : status === 1 ? 'malformedRequest' : `status ${status}`;
  };
  const post = async (body: Uint8Array) =>
    statusOf(await fetch(`${svc.url}/pki/default/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body }));
  const get = async (body: Uint8Array) => statusOf(await fetch(`${svc.url}/pki/default/ocsp/${encodeURIComponent(Buffer.from(body).toString('base64'))}`));

  it('answers the DER request, over POST and GET', async () => {
    expect(parseOcspRequest(der).ok).toBe(true);
    expect(await post(der)).toBe('good');
    expect(await get(der)).toBe('good');
  });

  it('answers each other spelling malformedRequest, over POST and GET, saying why in the log', async () => {
    for (const [name, bytes, reason] of notDer(der)) {
      const parsed = parseOcspRequest(bytes);
      expect.soft(parsed.ok ? 'read' : parsed.reason, name).toContain(reason);
      expect.soft(await post(bytes), name).toBe('malformedRequest');
      expect.soft(await get(bytes), name).toBe('malformedRequest');
    }
  });

  // What a real client sends is DER: openssl ocsp about two certificates, with its nonce and without, over POST and GET.
  it.skipIf(!hasOpenssl())('still answers openssl ocsp about several certificates, with and without a nonce', async () => {
    files.write('ca.pem', pem('CERTIFICATE', pkiOf(svc).cas[0]!.certificate));
    for (const id of ['a', 'b']) files.write(`${id}.pem`, (await issueCertifiedCredential(svc, `cred-ocsp-der-${id}`)).pem);
    const both = ['-issuer', 'ca.pem', '-cert', 'a.pem', '-cert', 'b.pem'];
    for (const nonce of [[], ['-no_nonce']]) {
      const answer = await files.run(['ocsp', ...both, ...nonce, '-url', `${svc.url}/pki/default/ocsp`, '-CAfile', 'ca.pem']);
      expect(answer.stderr).toContain('Response verify OK');
      expect(answer.stdout).toContain('a.pem: good');
      expect(answer.stdout).toContain('b.pem: good');
      await files.ok(['ocsp', ...both, ...nonce, '-reqout', 'both.req']);
      const request = new Uint8Array(files.read('both.req'));
      expect(parseOcspRequest(request).ok).toBe(true);
      files.write('both.resp', new Uint8Array(await (await fetch(`${svc.url}/pki/default/ocsp/${encodeURIComponent(Buffer.from(request).toString('base64'))}`)).arrayBuffer()));
      const got = await files.run(['ocsp', '-respin', 'both.resp', ...both, '-CAfile', 'ca.pem', '-no_nonce']);
      expect(got.stderr).toContain('Response verify OK');
      expect(got.stdout).toContain('b.pem: good');
    }
  });
});
