import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { derViolation } from '../der-rules.ts';
import { quotedCut } from '../quoted.ts';
import { CERT_ID_HASH_OID, type CertIdHash } from './issuer.ts';
import { serialHexOf } from './serial.ts';

/** Larger than any honest request: a handful of CertIDs, a nonce, perhaps a requestor signature and its chain. */
export const MAX_OCSP_REQUEST_BYTES = 16 * 1024;
/** CertIDs in one request: relying parties ask about one certificate, rarely a chain. */
export const MAX_OCSP_CERT_IDS = 32;
/** RFC 8954 section 2.1: a nonce of 1 to 32 octets; a responder refuses a longer one. */
export const MAX_OCSP_NONCE_BYTES = 32;
export const OCSP_NONCE_OID = '1.3.6.1.5.5.7.48.1.2';

export interface OcspCertId {
  /** The hash algorithm of the issuer hashes; undefined for one this responder does not compute. */
  readonly hash: CertIdHash | undefined;
  readonly issuerNameHash: Uint8Array;
  readonly issuerKeyHash: Uint8Array;
  /** Lowercase hex of the serial's content octets (the event form). */
  readonly serialNumber: string;
  /** The CertID as DER, echoed in the SingleResponse (RFC 6960 4.2.1). */
  readonly der: Uint8Array;
}

export interface OcspRequestFields {
  readonly certIds: readonly OcspCertId[];
  /** The nonce extension's extnValue exactly as received, echoed in the response (RFC 8954 section 2.1). */
  readonly nonce?: Uint8Array;
}

export type OcspRequestParse = { readonly ok: true; readonly request: OcspRequestFields } | { readonly ok: false; readonly reason: string };

const refuse = (reason: string): OcspRequestParse => ({ ok: false, reason });

/** A library's message about the sender's bytes may quote them (an object identifier, say): quoted cut. */
const messageOf = (error: unknown): string => quotedCut(error instanceof Error ? error.message : String(error));

const hashOf = (oid: string): CertIdHash | undefined =>
  (Object.keys(CERT_ID_HASH_OID) as CertIdHash[]).find((h) => CERT_ID_HASH_OID[h] === oid);

/** RFC 8954: the nonce is an OCTET STRING of 1..32 octets; length of what a client sent unwrapped, if it did. */
const nonceLength = (extnValue: Uint8Array): number => {
  const parsed = asn1js.fromBER(extnValue);
  return parsed.offset === extnValue.length && parsed.result instanceof asn1js.OctetString && !parsed.result.idBlock.isConstructed
    ? parsed.result.valueBlock.valueHexView.length
    : extnValue.length;
};

const childrenOf = (value: asn1js.AsnType | undefined): asn1js.AsnType[] =>
  value instanceof asn1js.Constructed ? value.valueBlock.value : [];
const isContextTag = (value: asn1js.AsnType | undefined, tagNumber: number): boolean =>
  value !== undefined && value.idBlock.tagClass === 3 && value.idBlock.tagNumber === tagNumber;

/**
 * A DEFAULT value the request spells out, which DER omits (X.690 11.5; der-rules.ts leaves it to the schema): the
 * version (RFC 6960 4.1.1, `[0] EXPLICIT Version DEFAULT v1`, v1 the only one defined) or an extension's `critical
 * FALSE` (RFC 5280 4.1). pkijs reads either as if absent, so it is looked for in the parsed structure.
 */
const explicitDefault = (ocspRequest: asn1js.AsnType, request: pkijs.OCSPRequest): string | undefined => {
  const fields = childrenOf(childrenOf(ocspRequest)[0]);
  if (isContextTag(fields[0], 0)) return `explicit version ${(request.tbsRequest.version ?? 0) + 1} (v1 is the DEFAULT, omitted in DER)`;
  const requestList = fields.find((f) => f instanceof asn1js.Sequence);
  const extensionLists = [
    ...childrenOf(fields.find((f) => isContextTag(f, 2))),
    ...childrenOf(requestList).flatMap((single) => childrenOf(childrenOf(single).find((f) => isContextTag(f, 0)))),
  ];
  const spelledOut = extensionLists.flatMap(childrenOf).some((extension) => {
    const critical = childrenOf(extension)[1];
    return critical instanceof asn1js.Boolean && !critical.getValue();
  });
  return spelledOut ? 'an extension with an explicit critical FALSE (the DEFAULT, omitted in DER)' : undefined;
};

/**
 * Parses an OCSPRequest (RFC 6960 4.1.1). Never throws: what cannot be read is a `malformedRequest` with the
 * reason, for the responder to log (the client gets the status only). A requestor signature, when present, is
 * not checked: this responder answers anyone (status is public) and signed requests are optional (4.1.2).
 */
export const parseOcspRequest = (der: Uint8Array): OcspRequestParse => {
  try {
    return parse(der);
  } catch (error) {
    // The ASN.1 libraries throw on some corrupt inputs they first accepted: still a malformed request, never a crash.
    return refuse(`unreadable: ${messageOf(error)}`);
  }
};

const parse = (der: Uint8Array): OcspRequestParse => {
  if (der.length === 0) return refuse('empty request');
  if (der.length > MAX_OCSP_REQUEST_BYTES) return refuse(`request larger than ${MAX_OCSP_REQUEST_BYTES} bytes`);
  const asn1 = asn1js.fromBER(der);
  if (asn1.offset === -1) return refuse(`not DER: ${quotedCut(asn1.result.error)}`);
  if (asn1.offset !== der.length) return refuse('bytes after the OCSPRequest');
  // RFC 6960 A.1: DER. asn1js reads BER, and each BER spelling of a request (an indefinite or non-minimal length, say)
  // was answered as the request, over GET under a URL no client sends, cached as the DER one's (review 171).
  const notDer = derViolation(der);
  if (notDer !== undefined) return refuse(`not DER: ${notDer}`);
  let request: pkijs.OCSPRequest;
  try {
    request = new pkijs.OCSPRequest({ schema: asn1.result });
  } catch (error) {
    return refuse(`not an OCSPRequest: ${messageOf(error)}`);
  }
  const explicit = explicitDefault(asn1.result, request);
  if (explicit !== undefined) return refuse(explicit);
  const list = request.tbsRequest.requestList;
  if (list.length === 0) return refuse('requestList is empty');
  if (list.length > MAX_OCSP_CERT_IDS) return refuse(`more than ${MAX_OCSP_CERT_IDS} certificates asked about`);
  let certIds: OcspCertId[];
  try {
    certIds = list.map(({ reqCert }): OcspCertId => ({
      hash: hashOf(reqCert.hashAlgorithm.algorithmId),
      issuerNameHash: reqCert.issuerNameHash.valueBlock.valueHexView.slice(),
      issuerKeyHash: reqCert.issuerKeyHash.valueBlock.valueHexView.slice(),
      serialNumber: serialHexOf(reqCert.serialNumber.valueBlock.valueHexView),
      der: new Uint8Array(reqCert.toSchema().toBER()),
    }));
  } catch (error) {
    // Parsed by the schema yet not encodable again (an object identifier no text form can hold, say).
    return refuse(`unreadable CertID: ${messageOf(error)}`);
  }
  // RFC 6960 4.4 defers to RFC 5280 4.2: a critical extension that is not understood must not be ignored. The nonce
  // of the request (4.4.1) is the only one understood; none of a single request is.
  const notUnderstood =
    (request.tbsRequest.requestExtensions ?? []).find((e) => e.critical && e.extnID !== OCSP_NONCE_OID) ??
    list.flatMap((r) => r.singleRequestExtensions ?? []).find((e) => e.critical);
  // The OID is the sender's (one of 15,500 arcs fits in 16 KiB, and was logged whole): quoted cut.
  if (notUnderstood !== undefined) return refuse(`critical extension ${quotedCut(notUnderstood.extnID)} not understood`);
  const nonces = (request.tbsRequest.requestExtensions ?? []).filter((e) => e.extnID === OCSP_NONCE_OID);
  if (nonces.length > 1) return refuse('more than one nonce extension');
  const nonce = nonces[0]?.extnValue.valueBlock.valueHexView.slice();
  if (nonce !== undefined) {
    const length = nonceLength(nonce);
    if (length < 1 || length > MAX_OCSP_NONCE_BYTES) return refuse(`nonce of ${length} octets (RFC 8954: 1 to ${MAX_OCSP_NONCE_BYTES})`);
  }
  return { ok: true, request: { certIds, ...(nonce !== undefined ? { nonce } : {}) } };
};
