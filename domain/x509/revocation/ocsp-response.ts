import * as asn1js from 'asn1js';
import { CRL_REASON_CODE, type RevocationReason } from '../../events/common.ts';
import type { CaKeyKind } from '../issuing-ca.ts';
import { signatureAlgorithmDer } from './algorithm.ts';
import { carriesInvalidityDate, invalidityDateExtension } from './crl.ts';
import { BIT_STRING, CONTEXT_0, SEQUENCE, tlv } from './der.ts';
import { OCSP_NONCE_OID } from './ocsp-request.ts';
import { generalizedTime } from './time.ts';

/** OCSPResponseStatus (RFC 6960 4.2.1); 4 is unused. */
export const OCSP_RESPONSE_STATUS = {
  successful: 0,
  malformedRequest: 1,
  internalError: 2,
  tryLater: 3,
  sigRequired: 5,
  unauthorized: 6,
} as const;
export type OcspErrorStatus = Exclude<keyof typeof OCSP_RESPONSE_STATUS, 'successful'>;

export type CertStatus =
  | { readonly status: 'good' }
  | {
      readonly status: 'revoked';
      /** Epoch ms: when the revocation was recorded (revocationTime). */
      readonly revokedAt: number;
      readonly reason: RevocationReason;
      /** Epoch ms: an earlier instant the certificate became invalid (invalidityDate, RevokedCertificate's). */
      readonly invalidSince?: number;
    }
  | { readonly status: 'unknown' };

export interface SingleResponseFields {
  /** The CertID DER as the request carried it. */
  readonly certId: Uint8Array;
  readonly status: CertStatus;
  readonly thisUpdate: number;
  readonly nextUpdate: number;
}

export interface ResponseDataFields {
  /** SHA-1 of the responder's public key (ResponderID byKey). */
  readonly responderKeyHash: Uint8Array;
  readonly producedAt: number;
  readonly responses: readonly SingleResponseFields[];
  /** The request's nonce extnValue, echoed (RFC 8954). */
  readonly nonce?: Uint8Array;
}

const BASIC_RESPONSE_OID = '1.3.6.1.5.5.7.48.1.1';
const der = (block: asn1js.BaseBlock): Uint8Array => new Uint8Array(block.toBER());
const context = (tag: number, constructed: boolean): number => 0x80 | (constructed ? 0x20 : 0) | tag;

/** CertStatus: good [0] IMPLICIT NULL, revoked [1] IMPLICIT RevokedInfo, unknown [2] IMPLICIT NULL (4.2.1). */
const certStatus = (s: CertStatus): Uint8Array => {
  switch (s.status) {
    case 'good':
      return tlv(context(0, false));
    case 'unknown':
      return tlv(context(2, false));
    case 'revoked': {
      const code = CRL_REASON_CODE[s.reason];
      // Like a CRL entry (RFC 5280 5.3.1), no reason rather than `unspecified`.
      const reason = code === 0 ? [] : [tlv(context(0, true), der(new asn1js.Enumerated({ value: code })))];
      return tlv(context(1, true), der(generalizedTime(s.revokedAt)), ...reason);
    }
    default: {
      const never: never = s;
      throw new TypeError(`unknown certificate status ${JSON.stringify(never)}`);
    }
  }
};

/**
 * singleExtensions [1] EXPLICIT Extensions (4.2.1): the invalidityDate of a revoked certificate, as its CRL entry
 * carries it (RFC 6960 4.4: every CRL entry extension of RFC 5280 5.3 is a singleExtension too); none otherwise.
 */
const singleExtensions = (s: CertStatus): Uint8Array[] =>
  s.status === 'revoked' && carriesInvalidityDate(s.revokedAt, s.invalidSince)
    ? [tlv(context(1, true), tlv(SEQUENCE, der(invalidityDateExtension(s.invalidSince))))]
    : [];

const singleResponse = (r: SingleResponseFields): Uint8Array => {
  if (!(r.nextUpdate > r.thisUpdate)) throw new RangeError('nextUpdate: must be after thisUpdate');
  return tlv(
    SEQUENCE,
    r.certId,
    certStatus(r.status),
    der(generalizedTime(r.thisUpdate)),
    tlv(context(0, true), der(generalizedTime(r.nextUpdate))),
    ...singleExtensions(r.status),
  );
};

/** The ResponseData a delegated responder signs (RFC 6960 4.2.1): v1, byKey, the answers and the echoed nonce. */
export const responseDataDer = (f: ResponseDataFields): Uint8Array => {
  if (f.responses.length === 0) throw new RangeError('responses: at least one');
  const extensions =
    f.nonce === undefined
      ? []
      : [tlv(context(1, true), tlv(SEQUENCE, tlv(SEQUENCE, der(new asn1js.ObjectIdentifier({ value: OCSP_NONCE_OID })), tlv(0x04, f.nonce))))];
  return tlv(
    SEQUENCE,
    tlv(context(2, true), tlv(0x04, f.responderKeyHash)),
    der(generalizedTime(f.producedAt)),
    tlv(SEQUENCE, ...f.responses.map(singleResponse)),
    ...extensions,
  );
};

/** OCSPResponse carrying a BasicOCSPResponse: the signed data, the responder's certificate(s) for the client to check. */
export const basicOcspResponseDer = (tbs: Uint8Array, kind: CaKeyKind, signature: Uint8Array, certs: readonly Uint8Array[]): Uint8Array => {
  const basic = tlv(
    SEQUENCE,
    tbs,
    signatureAlgorithmDer(kind),
    tlv(BIT_STRING, Uint8Array.of(0), signature),
    ...(certs.length > 0 ? [tlv(CONTEXT_0, tlv(SEQUENCE, ...certs))] : []),
  );
  return tlv(
    SEQUENCE,
    der(new asn1js.Enumerated({ value: OCSP_RESPONSE_STATUS.successful })),
    tlv(CONTEXT_0, tlv(SEQUENCE, der(new asn1js.ObjectIdentifier({ value: BASIC_RESPONSE_OID })), tlv(0x04, basic))),
  );
};

/** An unsigned error response (RFC 6960 2.3): the status alone, no responseBytes. */
export const ocspErrorResponseDer = (status: OcspErrorStatus): Uint8Array =>
  tlv(SEQUENCE, der(new asn1js.Enumerated({ value: OCSP_RESPONSE_STATUS[status] })));

/** Signs ResponseData through the delegated responder's signer (injected) and wraps it. */
export const signedOcspResponse = async (
  f: ResponseDataFields,
  responder: { readonly kind: CaKeyKind; readonly certificate: Uint8Array; sign(tbs: Uint8Array): Promise<Uint8Array> },
): Promise<Uint8Array> => {
  const tbs = responseDataDer(f);
  return basicOcspResponseDer(tbs, responder.kind, await responder.sign(tbs), [responder.certificate]);
};
