import type * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import type { IssuingCa } from '../../domain/x509/issuing-ca.ts';
import type { TestLeaf } from './pki-test-ca.ts';

/** An OCSPRequest (no nonce) about `leaf`, as a relying party's client makes it, with a CertID hashed by `hashAlgorithm`. */
export const ocspRequest = async (leaf: TestLeaf, ca: IssuingCa, hashAlgorithm: 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512' = 'SHA-256'): Promise<Uint8Array> => {
  const certID = await pkijs.CertID.create(pkijs.Certificate.fromBER(Uint8Array.from(leaf.der)), {
    hashAlgorithm,
    issuerCertificate: pkijs.Certificate.fromBER(Uint8Array.from(ca.certificate)),
  });
  const request = new pkijs.OCSPRequest({ tbsRequest: new pkijs.TBSRequest({ requestList: [new pkijs.Request({ reqCert: certID })] }) });
  return new Uint8Array(request.toSchema(true).toBER());
};

/** The certStatus CHOICE of the first SingleResponse (RFC 6960 4.2.1). */
const firstCertStatus = (der: Uint8Array): asn1js.Constructed => {
  const response = pkijs.OCSPResponse.fromBER(Uint8Array.from(der));
  const basic = pkijs.BasicOCSPResponse.fromBER(response.responseBytes!.response.valueBlock.valueHexView);
  return basic.tbsResponseData.responses[0]!.certStatus as asn1js.Constructed;
};

/** The certStatus of the first SingleResponse: good, revoked or unknown (RFC 6960 4.2.1). */
export const ocspStatus = (der: Uint8Array): string => ['good', 'revoked', 'unknown'][firstCertStatus(der).idBlock.tagNumber]!;

/** The revocationTime of the first SingleResponse, epoch ms; undefined when it does not say revoked. */
export const ocspRevokedAt = (der: Uint8Array): number | undefined => {
  const status = firstCertStatus(der);
  if (status.idBlock.tagNumber !== 1) return undefined;
  return (status.valueBlock.value[0] as asn1js.GeneralizedTime).toDate().getTime();
};

/** Whether `needle` (a serial's octets, say) occurs in `haystack` (a DER CRL). */
export const includesBytes = (haystack: Uint8Array, needle: Uint8Array): boolean => Buffer.from(haystack).includes(Buffer.from(needle));

/** An OCSPRequest (no nonce) about every one of `leaves` in one requestList, in that order (RFC 6960 4.1.1). */
export const ocspRequestAbout = async (leaves: readonly TestLeaf[], ca: IssuingCa): Promise<Uint8Array> => {
  const issuerCertificate = pkijs.Certificate.fromBER(Uint8Array.from(ca.certificate));
  const requestList = await Promise.all(
    leaves.map(async (leaf) => new pkijs.Request({ reqCert: await pkijs.CertID.create(pkijs.Certificate.fromBER(Uint8Array.from(leaf.der)), { hashAlgorithm: 'SHA-256', issuerCertificate }) })),
  );
  return new Uint8Array(new pkijs.OCSPRequest({ tbsRequest: new pkijs.TBSRequest({ requestList }) }).toSchema(true).toBER());
};

/** Each SingleResponse's certStatus and nextUpdate (epoch ms), in the answer's order. */
export const ocspSingles = (der: Uint8Array): { status: string; nextUpdate: number | undefined }[] => {
  const response = pkijs.OCSPResponse.fromBER(Uint8Array.from(der));
  const basic = pkijs.BasicOCSPResponse.fromBER(response.responseBytes!.response.valueBlock.valueHexView);
  return basic.tbsResponseData.responses.map((single) => ({
    status: ['good', 'revoked', 'unknown'][(single.certStatus as asn1js.Constructed).idBlock.tagNumber]!,
    nextUpdate: single.nextUpdate?.getTime(),
  }));
};

/** The BasicOCSPResponse of a successful answer. */
const basicResponse = (der: Uint8Array): pkijs.BasicOCSPResponse =>
  pkijs.BasicOCSPResponse.fromBER(pkijs.OCSPResponse.fromBER(Uint8Array.from(der)).responseBytes!.response.valueBlock.valueHexView);

/** producedAt, and the first SingleResponse's thisUpdate and nextUpdate (epoch ms), of a successful answer. */
export const ocspTimes = (der: Uint8Array): { producedAt: number; thisUpdate: number; nextUpdate: number } => {
  const basic = basicResponse(der);
  const single = basic.tbsResponseData.responses[0]!;
  return { producedAt: basic.tbsResponseData.producedAt.getTime(), thisUpdate: single.thisUpdate.getTime(), nextUpdate: single.nextUpdate!.getTime() };
};

/** The notAfter (epoch ms) of the responder certificate a successful answer carries. */
export const ocspResponderNotAfter = (der: Uint8Array): number => basicResponse(der).certs![0]!.notAfter.value.getTime();
