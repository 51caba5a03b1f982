/**
 * An OCSP refusal explains, it does not echo (security review, F2, reachable without a token): a 15.6 KB request whose
 * critical extension had an OID of 15,500 arcs was refused with a reason quoting the OID whole, and the route logs
 * the reason at info: 62.7 KB of log per request. The OID is quoted cut (domain/x509/quoted.ts, as a CSR refusal
 * quotes one), and the route cuts any logged reason as a backstop.
 */
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_OCSP_REQUEST_BYTES, parseOcspRequest } from '../domain/x509/revocation/index.ts';
import { startPkiService } from './support/pki-test-ca.ts';
import type { TestService } from './support/service.ts';

/** 1.2 followed by 15,500 arcs of 1: 31,003 characters as text, about 15.5 KB encoded. */
const LONG_OID = `1.2${'.1'.repeat(15_500)}`;

/** An OCSPRequest about one (made-up) CertID whose request carries a critical extension `extnID`. */
const requestWithCriticalExtension = (extnID: string): Uint8Array => {
  const reqCert = new pkijs.CertID({
    hashAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: '1.3.14.3.2.26', algorithmParams: new asn1js.Null() }),
    issuerNameHash: new asn1js.OctetString({ valueHex: new Uint8Array(20).fill(1) }),
    issuerKeyHash: new asn1js.OctetString({ valueHex: new Uint8Array(20).fill(2) }),
    serialNumber: new asn1js.Integer({ value: 1 }),
  });
  const tbsRequest = new pkijs.TBSRequest({
    requestList: [new pkijs.Request({ reqCert })],
    requestExtensions: [new pkijs.Extension({ extnID, critical: true, extnValue: new asn1js.Null().toBER() })],
  });
  return new Uint8Array(new pkijs.OCSPRequest({ tbsRequest }).toSchema(true).toBER());
};

/** The OCSPResponseStatus of a DER OCSPResponse (1: malformedRequest, 6: unauthorized). */
const responseStatus = (der: Uint8Array): number => pkijs.OCSPResponse.fromBER(der).responseStatus.valueBlock.valueDec;

describe('an OCSP refusal quotes a bounded cut of the OID it names (review F2)', () => {
  it('refuses a critical extension with an OID of 15,500 arcs with a reason of at most 120 characters that names the rule', () => {
    const request = requestWithCriticalExtension(LONG_OID);
    expect(request.length).toBeLessThanOrEqual(MAX_OCSP_REQUEST_BYTES);
    const parsed = parseOcspRequest(request);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.reason.length).toBeLessThanOrEqual(120);
    expect(parsed.reason).toBe(`critical extension ${JSON.stringify(LONG_OID.slice(0, 80))} not understood`);
  });

  describe('over HTTP, without a token', () => {
    let svc: TestService;
    beforeAll(async () => {
      svc = await startPkiService('p256');
    }, 60_000);
    afterAll(async () => svc?.close());

    const post = async (body: Uint8Array, caId = 'default'): Promise<number> => {
      const response = await fetch(`${svc.url}/pki/${caId}/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body });
      expect(response.status).toBe(200);
      return responseStatus(new Uint8Array(await response.arrayBuffer()));
    };

    /** The `OCSP request refused` lines logged since `from` lines. */
    const refusalsSince = (from: number): { line: string; reason: string }[] =>
      svc
        .logs()
        .slice(from)
        .map((line) => ({ line, parsed: JSON.parse(line) as { msg?: string; reason?: string } }))
        .filter(({ parsed }) => parsed.msg === 'OCSP request refused')
        .map(({ line, parsed }) => ({ line, reason: String(parsed.reason) }));

    it('answers malformedRequest and logs one line of bounded length that names the rule', async () => {
      const from = svc.logs().length;
      expect(await post(requestWithCriticalExtension(LONG_OID))).toBe(1);
      const refusals = refusalsSince(from);
      expect(refusals).toHaveLength(1);
      expect(refusals[0]!.line.length).toBeLessThanOrEqual(600);
      expect(refusals[0]!.reason).toMatch(/^critical extension "1\.2\.1\.1\.1[.1]*" not understood$/);
    });

    it('cuts a logged reason to 300 characters whatever made it long (a CA name of 300 characters)', async () => {
      const caId = 'x'.repeat(300);
      const from = svc.logs().length;
      expect(await post(requestWithCriticalExtension('1.2.3.4'), caId)).toBe(6);
      const refusals = refusalsSince(from);
      expect(refusals).toHaveLength(1);
      expect(refusals[0]!.reason).toBe(`${`no issuing CA ${caId}`.slice(0, 300)}... (314 characters)`);
    });
  });
});
