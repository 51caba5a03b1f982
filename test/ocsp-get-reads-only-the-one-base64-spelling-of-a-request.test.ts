import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ocspRequest, ocspStatus } from './support/ocsp-client.ts';
import { issueCertifiedCredential, pkiOf, startPkiService } from './support/pki-test-ca.ts';
import type { TestService } from './support/service.ts';

/*
 * RFC 6960 A.1: GET {url}/{url-encoding of base-64 encoding of the DER encoding of the OCSPRequest}. The responder
 * reads that in every form a client sends it (`/`, `+` and `=` percent-encoded or not, padded or not, or in the URL-safe
 * alphabet of RFC 4648 5), and nothing else: Node's base64 decoder is lenient, so a stray last character, one `=`
 * where two belong or a padding the length does not call for, and spare bits that are not zero (RFC 4648 3.5) were
 * read as the request they garbled, answered `good`, and cached by HTTP caches under a URL no client made.
 */
describe('the OCSP GET form reads only the one base64 spelling of a request', () => {
  let svc: TestService;
  /** Requests about one certificate whose base64 ends in no, one and two `=`, each holding `+` and `/`. */
  const byPadding = new Map<number, Uint8Array>();
  beforeAll(async () => {
    svc = await startPkiService('p256');
    const leaf = await issueCertifiedCredential(svc, 'cred-ocsp-base64');
    const template = await ocspRequest(leaf, pkiOf(svc).cas[0]!);
    // A nonce (RFC 8954, 1 to 32 octets) of 0xfb 0xef 0xbe 0xff...: its base64 holds `+` and `/` at some alignment,
    // and its length sets the padding.
    for (let length = 6; length <= 32 && byPadding.size < 3; length++) {
      const parsed = pkijs.OCSPRequest.fromBER(Uint8Array.from(template));
      const nonce = Uint8Array.from({ length }, (_, i) => [0xfb, 0xef, 0xbe, 0xff][i % 4]!);
      parsed.tbsRequest.requestExtensions = [new pkijs.Extension({ extnID: '1.3.6.1.5.5.7.48.1.2', extnValue: new asn1js.OctetString({ valueHex: nonce }).toBER() })];
      const der = new Uint8Array(parsed.toSchema(true).toBER());
      const base64 = Buffer.from(der).toString('base64');
      const padding = base64.length - base64.replace(/=+$/, '').length;
      if (!byPadding.has(padding) && base64.includes('+') && base64.includes('/')) byPadding.set(padding, der);
    }
    expect([...byPadding.keys()].sort()).toEqual([0, 1, 2]);
  }, 60_000);
  afterAll(async () => svc?.close());

  /** The OCSPResponseStatus, and for a successful answer the first certStatus, of a GET of `path` as given. */
  const get = async (path: string): Promise<string> => {
    const reply = await fetch(`${svc.url}/pki/default/ocsp/${path}`);
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toBe('application/ocsp-response');
    const der = new Uint8Array(await reply.arrayBuffer());
    const status = pkijs.OCSPResponse.fromBER(der).responseStatus.valueBlock.valueDec;
    return status === 0 ? ocspStatus(der) : `status ${status}`;
  };
  const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  /** `base64` (unpadded) with the lowest bit of its last character set: the same octets to a lenient decoder. */
  const spareBitSet = (unpadded: string): string => `${unpadded.slice(0, -1)}${ALPHABET[ALPHABET.indexOf(unpadded.at(-1)!) | 1]}`;

  it.each([0, 1, 2])(
    'reads a request ending in %i "=" in every encoding of its one spelling, and refuses it garbled with malformedRequest',
    async (padding) => {
      const der = byPadding.get(padding)!;
      const base64 = Buffer.from(der).toString('base64');
      const unpadded = base64.replace(/=+$/, '');
      const urlSafe = Buffer.from(der).toString('base64url');
      const read = [
        encodeURIComponent(base64), // RFC 6960 A.1: `%2F`, `%2B`, `%3D`
        base64, // `/`, `+` and `=` as they are: each is a path character (RFC 3986 3.3)
        unpadded,
        encodeURIComponent(unpadded),
        urlSafe, // RFC 4648 5, unpadded as it is usually sent
        `${urlSafe}${'='.repeat(padding)}`,
      ];
      for (const path of read) expect(await get(path), path).toBe('good');

      const wrongPadding = padding === 1 ? '==' : '=';
      const garbled = [
        `${unpadded}${wrongPadding}`, // one `=` where two belong, two where one does, one where none does
        `${urlSafe}${wrongPadding}`,
        ...(padding === 0
          ? [`${base64}A`, `${urlSafe}A`] // a stray sixth bit-group, which a lenient decoder drops
          : [`${spareBitSet(unpadded)}${'='.repeat(padding)}`, spareBitSet(unpadded)]), // spare bits not zero (RFC 4648 3.5)
      ];
      for (const path of garbled) {
        // Each garbled spelling must still be base64 a lenient decoder reads as the same octets, or this proves nothing.
        expect(Buffer.from(decodeURIComponent(path).replace(/=+$/, ''), /[-_]/.test(path) ? 'base64url' : 'base64').equals(Buffer.from(der)), path).toBe(true);
        expect(await get(encodeURIComponent(path)), path).toBe('status 1');
      }
    },
  );
});
