import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { ocspRequest } from './ocsp-client.ts';
import { pkiOf, type TestLeaf } from './pki-test-ca.ts';
import type { TestService } from './service.ts';

/** The invalidityDate extension's OID (RFC 5280 5.3.2): a CRL entry extension, an OCSP singleExtension (RFC 6960 4.4). */
export const INVALIDITY_DATE_OID = '2.5.29.24';

/** The value of an invalidityDate extension among `extensions`, epoch ms; undefined when there is none. Always a GeneralizedTime. */
const invalidityDateIn = (extensions: readonly pkijs.Extension[] | undefined): number | undefined => {
  const found = (extensions ?? []).find((e) => e.extnID === INVALIDITY_DATE_OID);
  if (found === undefined) return undefined;
  const value = asn1js.fromBER(found.extnValue.valueBlock.valueHexView).result;
  if (!(value instanceof asn1js.GeneralizedTime)) throw new Error('invalidityDate: not a GeneralizedTime');
  return value.toDate().getTime();
};

/** The CRL `der`'s entry of `serial` (lowercase hex); undefined when it is not listed. */
export const crlEntry = (der: Uint8Array, serial: string): pkijs.RevokedCertificate | undefined =>
  (pkijs.CertificateRevocationList.fromBER(Uint8Array.from(der)).revokedCertificates ?? []).find(
    (r) => Buffer.from(r.userCertificate.valueBlock.valueHexView).toString('hex') === serial,
  );

/** The invalidityDate of `serial`'s entry on the CRL `der`, epoch ms; undefined when the entry has none (or is not listed). */
export const crlInvalidityDate = (der: Uint8Array, serial: string): number | undefined => invalidityDateIn(crlEntry(der, serial)?.crlEntryExtensions?.extensions);

/** The first SingleResponse of the OCSP response `der` (RFC 6960 4.2.1). */
const firstSingleResponse = (der: Uint8Array): pkijs.SingleResponse => {
  const response = pkijs.OCSPResponse.fromBER(Uint8Array.from(der));
  const basic = pkijs.BasicOCSPResponse.fromBER(response.responseBytes!.response.valueBlock.valueHexView);
  return basic.tbsResponseData.responses[0]!;
};

/** The invalidityDate singleExtension of the first SingleResponse, epoch ms; undefined when it has none. */
export const ocspInvalidityDate = (der: Uint8Array): number | undefined => invalidityDateIn(firstSingleResponse(der).singleExtensions);

/** The OCSP response (DER) `svc`'s responder gives for `leaf`, asked by POST. */
export const ocspAnswer = async (svc: TestService, leaf: TestLeaf): Promise<Uint8Array> => {
  const answer = await fetch(`${svc.url}/pki/default/ocsp`, {
    method: 'POST',
    headers: { 'content-type': 'application/ocsp-request' },
    body: Buffer.from(await ocspRequest(leaf, pkiOf(svc).cas[0]!)),
  });
  return new Uint8Array(await answer.arrayBuffer());
};
