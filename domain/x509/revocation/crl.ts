import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { CRL_REASON_CODE, type RevocationReason } from '../../events/common.ts';
import { authorityKeyIdentifier, freshestCrl } from '../issuance/index.ts';
import type { CaKeyKind } from '../issuing-ca.ts';
import { signatureAlgorithmDer } from './algorithm.ts';
import { CONTEXT_0, SEQUENCE, signedStructure, tlv } from './der.ts';
import type { RevocationIssuer } from './issuer.ts';
import { serialOctets } from './serial.ts';
import { generalizedTime, wholeSeconds, x509Time } from './time.ts';

const OID = {
  reasonCode: '2.5.29.21',
  invalidityDate: '2.5.29.24',
  crlNumber: '2.5.29.20',
  deltaCrlIndicator: '2.5.29.27',
} as const;

export interface RevokedCertificate {
  /** Lowercase hex of the serial's content octets, as `CertificateSummary.serialNumber`. */
  readonly serialNumber: string;
  /** Epoch ms: the revocation event's recorded time, when the CA processed it (revocationDate, RFC 5280 5.3.2). */
  readonly revokedAt: number;
  readonly reason: RevocationReason;
  /**
   * Epoch ms: when the certificate became invalid, where that is earlier than its recording (a rotation's handover or a
   * lapse recorded late; projections/revocation-instant). Carried as the invalidityDate entry extension.
   */
  readonly invalidSince?: number;
}

const extension = (extnID: string, value: asn1js.BaseBlock, critical = false): asn1js.Sequence =>
  new pkijs.Extension({ extnID, critical, extnValue: value.toBER() }).toSchema() as asn1js.Sequence;

/**
 * Whether a revocation processed at `revokedAt` carries `invalidSince` as its invalidityDate: only when that is an
 * earlier second (both are encoded in whole seconds; one in the same second would say nothing revocationDate does not).
 * One rule for the CRL entry and the OCSP singleExtension (RFC 6960 4.4: the CRL entry extensions, in OCSP).
 */
export const carriesInvalidityDate = (revokedAt: number, invalidSince: number | undefined): invalidSince is number =>
  invalidSince !== undefined && wholeSeconds(invalidSince).getTime() < wholeSeconds(revokedAt).getTime();

/**
 * The invalidityDate extension (RFC 5280 5.3.2, non-critical): always a GeneralizedTime (4.1.2.5.2: Zulu, whole
 * seconds), unlike revocationDate.
 */
export const invalidityDateExtension = (invalidSince: number): asn1js.Sequence => extension(OID.invalidityDate, generalizedTime(invalidSince));

/**
 * One revokedCertificates entry (RFC 5280 5.1.2.6), DER: encoded once when the revocation is projected and kept,
 * so a CRL is assembled from these bytes. The reasonCode entry extension is absent for `unspecified` (5.3.1:
 * "the reason code extension SHOULD be absent instead of using the unspecified (0) reasonCode value").
 * revocationDate is when the CA processed the revocation (5.3.2), the event's recorded time; an earlier instant from
 * which the service refused the certificate is the invalidityDate (review 203: it was back-dated in revocationDate).
 */
export const revokedCertificateDer = (entry: RevokedCertificate): Uint8Array => {
  const reason = CRL_REASON_CODE[entry.reason];
  const fields: asn1js.BaseBlock[] = [new asn1js.Integer({ valueHex: serialOctets(entry.serialNumber) }), x509Time(entry.revokedAt)];
  const extensions: asn1js.Sequence[] = [];
  if (reason !== 0) extensions.push(extension(OID.reasonCode, new asn1js.Enumerated({ value: reason })));
  if (carriesInvalidityDate(entry.revokedAt, entry.invalidSince)) extensions.push(invalidityDateExtension(entry.invalidSince));
  if (extensions.length > 0) fields.push(new asn1js.Sequence({ value: extensions }));
  return new Uint8Array(new asn1js.Sequence({ value: fields }).toBER());
};

export interface CrlFields {
  readonly issuer: RevocationIssuer;
  readonly kind: CaKeyKind;
  /** Shared by full and delta CRLs of one CA, strictly increasing (RFC 5280 5.2.3, 5.2.4). */
  readonly crlNumber: number;
  readonly thisUpdate: number;
  readonly nextUpdate: number;
  /** revokedCertificates entries (revokedCertificateDer), concatenated; empty: the field is omitted (5.1.2.6). */
  readonly entries: Uint8Array;
  /** A delta CRL: the CRL number of the complete CRL it updates (deltaCRLIndicator, critical, 5.2.4). */
  readonly baseCrlNumber?: number;
  /** On a complete CRL: where its delta CRLs are (freshestCRL, 5.2.6). */
  readonly freshestCrlUrl?: string;
}

const crlNumberValue = (n: number, name: string): asn1js.Integer => {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${name}: must be a whole number >= 0`);
  return new asn1js.Integer({ value: n });
};

/**
 * The TBSCertList of a complete or delta CRL (RFC 5280 5.1): v2, the CA's name and key identifier, the CRL number;
 * the entries are copied in as they were encoded, the rest (a few hundred bytes) is encoded here.
 */
export const tbsCertListDer = (f: CrlFields): Uint8Array => {
  if (!(f.nextUpdate > f.thisUpdate)) throw new RangeError('nextUpdate: must be after thisUpdate');
  const extensions = [
    authorityKeyIdentifier(f.issuer.keyIdentifier).toSchema() as asn1js.Sequence,
    extension(OID.crlNumber, crlNumberValue(f.crlNumber, 'crlNumber')),
  ];
  if (f.baseCrlNumber !== undefined) {
    if (f.baseCrlNumber >= f.crlNumber) throw new RangeError('baseCrlNumber: must be below crlNumber');
    extensions.push(extension(OID.deltaCrlIndicator, crlNumberValue(f.baseCrlNumber, 'baseCrlNumber'), true));
  }
  // The same extension (and syntax) certificates carry (5.2.6 via 4.2.1.15).
  if (f.freshestCrlUrl !== undefined) extensions.push(freshestCrl(f.freshestCrlUrl).toSchema() as asn1js.Sequence);
  const encoded = (block: asn1js.BaseBlock): Uint8Array => new Uint8Array(block.toBER());
  return tlv(
    SEQUENCE,
    encoded(new asn1js.Integer({ value: 1 })),
    signatureAlgorithmDer(f.kind),
    f.issuer.name,
    encoded(x509Time(f.thisUpdate)),
    encoded(x509Time(f.nextUpdate)),
    ...(f.entries.length > 0 ? [tlv(SEQUENCE, f.entries)] : []),
    tlv(CONTEXT_0, encoded(new asn1js.Sequence({ value: extensions }))),
  );
};

/** Signs a CRL through the CA's signer (injected: the key stays in the Secure Environment) and assembles it (5.1). */
export const signedCrl = async (f: CrlFields, sign: (tbs: Uint8Array) => Promise<Uint8Array>): Promise<Uint8Array> => {
  const tbs = tbsCertListDer(f);
  return signedStructure(tbs, signatureAlgorithmDer(f.kind), await sign(tbs));
};
