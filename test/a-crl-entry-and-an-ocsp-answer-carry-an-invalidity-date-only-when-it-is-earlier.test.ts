import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { describe, expect, it } from 'vitest';
import { responseDataDer, revokedCertificateDer, type CertStatus } from '../domain/x509/revocation/index.ts';
import { INVALIDITY_DATE_OID } from './support/invalidity-dates.ts';

/*
 * Review 203: a revocation the service stopped accepting before it was recorded (a rotation's handover recorded late, a
 * lapse recorded at a restart) was back-dated in revocationDate / revocationTime. RFC 5280 5.3.2: revocationDate is
 * when the CA processed the revocation; the earlier instant the certificate became invalid is the invalidityDate
 * entry extension (2.5.29.24, GeneralizedTime, non-critical), which RFC 6960 4.4 carries as an OCSP singleExtension.
 */
const RECORDED = Date.parse('2026-12-05T21:00:00.750Z');
const INVALID = Date.parse('2026-12-04T19:30:00.250Z');

/** The entry extensions of a revokedCertificates entry, as [OID, critical, value DER as hex]. */
const entryExtensions = (der: Uint8Array): [string, boolean, string][] => {
  const entry = new pkijs.RevokedCertificate({ schema: asn1js.fromBER(Uint8Array.from(der)).result });
  return (entry.crlEntryExtensions?.extensions ?? []).map((e) => [e.extnID, e.critical, Buffer.from(e.extnValue.valueBlock.valueHexView).toString('hex')]);
};

/** GeneralizedTime `text` (YYYYMMDDHHMMSSZ), DER, as hex. */
const generalizedTimeHex = (text: string): string => `180f${Buffer.from(text, 'ascii').toString('hex')}`;

describe('a CRL entry (revokedCertificateDer)', () => {
  it('carries invalidityDate, non-critical, a GeneralizedTime in whole seconds, after reasonCode, when it is earlier than revocationDate', () => {
    const der = revokedCertificateDer({ serialNumber: '7f01', revokedAt: RECORDED, reason: 'superseded', invalidSince: INVALID });
    expect(entryExtensions(der)).toEqual([
      ['2.5.29.21', false, '0a0104'],
      [INVALIDITY_DATE_OID, false, generalizedTimeHex('20261204193000Z')],
    ]);
    const entry = new pkijs.RevokedCertificate({ schema: asn1js.fromBER(Uint8Array.from(der)).result });
    expect(entry.revocationDate.value.getTime()).toBe(Date.parse('2026-12-05T21:00:00.000Z'));
  });

  it('is a GeneralizedTime where revocationDate is a UTCTime (before 2050)', () => {
    const der = revokedCertificateDer({ serialNumber: '7f01', revokedAt: RECORDED, reason: 'unspecified', invalidSince: INVALID });
    const entry = asn1js.fromBER(Uint8Array.from(der)).result as asn1js.Sequence;
    expect(entry.valueBlock.value[1]).toBeInstanceOf(asn1js.UTCTime);
    expect(entry.valueBlock.value[1]).not.toBeInstanceOf(asn1js.GeneralizedTime);
    // `unspecified` has no reasonCode (RFC 5280 5.3.1): invalidityDate alone.
    expect(entryExtensions(der)).toEqual([[INVALIDITY_DATE_OID, false, generalizedTimeHex('20261204193000Z')]]);
  });

  it('has none without invalidSince, nor when invalidSince falls in the second of revocationDate or after it', () => {
    const base = { serialNumber: '7f01', revokedAt: RECORDED, reason: 'superseded' } as const;
    const without = revokedCertificateDer(base);
    expect(entryExtensions(without)).toEqual([['2.5.29.21', false, '0a0104']]);
    expect(revokedCertificateDer({ ...base, invalidSince: Date.parse('2026-12-05T21:00:00.000Z') })).toEqual(without);
    expect(revokedCertificateDer({ ...base, invalidSince: RECORDED + 5_000 })).toEqual(without);
  });
});

/** A CertID (SHA-1) DER: its bytes are copied as they are, only their framing matters here. */
const certId = new Uint8Array(
  new pkijs.CertID({
    hashAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: '1.3.14.3.2.26', algorithmParams: new asn1js.Null() }),
    issuerNameHash: new asn1js.OctetString({ valueHex: new Uint8Array(20).fill(1) }),
    issuerKeyHash: new asn1js.OctetString({ valueHex: new Uint8Array(20).fill(2) }),
    serialNumber: new asn1js.Integer({ valueHex: Uint8Array.of(0x7f, 0x01) }),
  })
    .toSchema()
    .toBER(),
);

/** The SingleResponse of ResponseData answering `status`, parsed by pkijs. */
const singleResponseOf = (status: CertStatus): pkijs.SingleResponse => {
  const der = responseDataDer({
    responderKeyHash: new Uint8Array(20),
    producedAt: RECORDED,
    responses: [{ certId, status, thisUpdate: RECORDED, nextUpdate: RECORDED + 3_600_000 }],
  });
  return new pkijs.ResponseData({ schema: asn1js.fromBER(Uint8Array.from(der)).result }).responses[0]!;
};

const singleExtensions = (r: pkijs.SingleResponse): [string, boolean, string][] =>
  (r.singleExtensions ?? []).map((e) => [e.extnID, e.critical, Buffer.from(e.extnValue.valueBlock.valueHexView).toString('hex')]);

describe('an OCSP SingleResponse answering revoked (responseDataDer)', () => {
  it('carries invalidityDate as its singleExtensions, after nextUpdate, when it is earlier than revocationTime', () => {
    const single = singleResponseOf({ status: 'revoked', revokedAt: RECORDED, reason: 'superseded', invalidSince: INVALID });
    expect(singleExtensions(single)).toEqual([[INVALIDITY_DATE_OID, false, generalizedTimeHex('20261204193000Z')]]);
    const revokedInfo = (single.certStatus as asn1js.Constructed).valueBlock.value[0] as asn1js.GeneralizedTime;
    expect(revokedInfo.toDate().getTime()).toBe(Date.parse('2026-12-05T21:00:00.000Z'));
    expect(single.nextUpdate?.getTime()).toBe(Date.parse('2026-12-05T22:00:00.000Z'));
  });

  it('has no singleExtensions without invalidSince, nor when it falls in the second of revocationTime', () => {
    expect(singleResponseOf({ status: 'revoked', revokedAt: RECORDED, reason: 'superseded' }).singleExtensions).toBeUndefined();
    expect(singleResponseOf({ status: 'revoked', revokedAt: RECORDED, reason: 'superseded', invalidSince: RECORDED - 500 }).singleExtensions).toBeUndefined();
  });
});
