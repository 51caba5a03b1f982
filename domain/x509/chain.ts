// @peculiar/x509 resolves its parsers through tsyringe, which needs the Reflect metadata API loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { z } from 'zod';
import { CredenceError, validationError } from '../errors.ts';
import { base64urlString, fromBase64url } from '../crypto/base64url.ts';
import { MAX_CERTIFICATE_LENGTH, MAX_TRUST_ANCHORS } from '../crypto/sizes.ts';
import { jsonLimitIssue } from '../json-limits.ts';
import { certificateFingerprint, publicKeyFromSpki } from '../crypto/fingerprint.ts';

/**
 * Manufacturer (IDevID) certificate chains checked against configured trust anchors (SER-SWIR-04: leverage
 * credentials provisioned during manufacturing). The outcome is what the engine records: fingerprint, subject,
 * validity, and the certified public key. Vendor types stay inside this folder.
 */
export type CertificateRejection =
  | 'malformed_certificate'
  | 'unknown_trust_anchor'
  | 'certificate_expired'
  | 'certificate_not_yet_valid'
  | 'bad_certificate_signature'
  | 'issuer_not_ca'
  | 'unsupported_key';

/** Failed chain checks are `bad_signature` problems (the credential did not verify) with a stable reason. */
export const certificateRejected = (reason: CertificateRejection, subject: string): CredenceError =>
  new CredenceError({ code: 'bad_signature', reason, message: `certificate chain rejected: ${reason} (${subject})` });

export interface VerifiedCertificate {
  /** sha256:<hex> of the leaf's DER. */
  readonly fingerprint: string;
  readonly subject: string;
  readonly issuer: string;
  readonly serialNumber: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly publicKey: { readonly kind: 'ed25519' | 'p256'; readonly bytes: Uint8Array };
  readonly anchor: { readonly fingerprint: string; readonly subject: string };
}

interface Parsed {
  readonly der: Uint8Array;
  readonly cert: x509.X509Certificate;
}

const parse = (der: Uint8Array, label: string): Parsed => {
  try {
    return { der, cert: new x509.X509Certificate(new Uint8Array(der)) };
  } catch {
    throw certificateRejected('malformed_certificate', label);
  }
};

const isCa = (cert: x509.X509Certificate): boolean => {
  const constraints = cert.getExtension(x509.BasicConstraintsExtension);
  const usages = cert.getExtension(x509.KeyUsagesExtension);
  return constraints?.ca === true && (usages === null || (usages.usages & x509.KeyUsageFlags.keyCertSign) !== 0);
};

const signedBy = async (subject: x509.X509Certificate, issuer: x509.X509Certificate): Promise<boolean> => {
  try {
    return await subject.verify({ publicKey: issuer, signatureOnly: true });
  } catch {
    return false;
  }
};

const checkValidity = (cert: x509.X509Certificate, at: Date): void => {
  if (at < cert.notBefore) throw certificateRejected('certificate_not_yet_valid', cert.subject);
  if (at > cert.notAfter) throw certificateRejected('certificate_expired', cert.subject);
};

/** Configuration: the manufacturer root certificates, DER as base64url. */
export const TrustAnchorsConfig = z.array(base64urlString({ max: MAX_CERTIFICATE_LENGTH })).min(1).max(MAX_TRUST_ANCHORS);

/** A set of trust anchors (root CA certificates, DER). */
export class TrustAnchors {
  readonly #anchors: readonly Parsed[];

  private constructor(anchors: readonly Parsed[]) {
    this.#anchors = anchors;
  }

  /**
   * Parses configuration; anything but a non-empty list of CA certificates is a `validation` error, and so is input
   * beyond the JSON limits, refused before the schema walks it (SER-001).
   */
  static fromConfig(input: unknown): TrustAnchors {
    const tooBig = jsonLimitIssue(input);
    if (tooBig !== undefined) throw validationError([{ ...tooBig, path: ['trustAnchors', tooBig.path].filter(Boolean).join('.') }], 'trust anchors');
    const parsed = TrustAnchorsConfig.safeParse(input);
    if (!parsed.success) {
      throw validationError(
        parsed.error.issues.map((i) => ({ path: ['trustAnchors', ...i.path].join('.'), rule: i.code, message: i.message })),
        'trust anchors',
      );
    }
    return TrustAnchors.fromDer(parsed.data.map((text) => fromBase64url(text)));
  }

  /** Anchors must themselves be CA certificates (else `bad_signature` with reason issuer_not_ca). */
  static fromDer(certificates: readonly Uint8Array[]): TrustAnchors {
    const anchors = certificates.map((der, i) => parse(der, `trust anchor ${i}`));
    anchors.forEach(({ cert }) => {
      if (!isCa(cert)) throw certificateRejected('issuer_not_ca', cert.subject);
    });
    return new TrustAnchors(anchors);
  }

  issuersOf(cert: x509.X509Certificate): readonly Parsed[] {
    return this.#anchors.filter((a) => a.cert.subject === cert.issuer);
  }

  contains(der: Uint8Array): Parsed | undefined {
    const fingerprint = certificateFingerprint(der);
    return this.#anchors.find((a) => certificateFingerprint(a.der) === fingerprint);
  }

  get size(): number {
    return this.#anchors.length;
  }
}

/**
 * Verifies `chain` (leaf first, then intermediates in order) at instant `at`: every certificate within its
 * validity, every issuer a CA, every signature valid, ending at a configured anchor (which must be valid too).
 */
export const verifyCertificateChain = async (
  chain: readonly Uint8Array[],
  anchors: TrustAnchors,
  at: Date,
): Promise<VerifiedCertificate> => {
  if (chain.length === 0) throw new TypeError('chain must hold at least the leaf certificate');
  const parsed = chain.map((der, i) => parse(der, i === 0 ? 'leaf' : `intermediate ${i}`));
  let anchor: Parsed | undefined;
  for (let i = 0; i < parsed.length && anchor === undefined; i++) {
    const { cert, der } = parsed[i] as Parsed;
    checkValidity(cert, at);
    anchor = anchors.contains(der);
    if (anchor) break; // the chain included its own root: it is trusted only because it is configured
    const next = parsed[i + 1];
    if (next) {
      if (next.cert.subject !== cert.issuer) throw certificateRejected('unknown_trust_anchor', cert.subject);
      if (!isCa(next.cert)) throw certificateRejected('issuer_not_ca', next.cert.subject);
      if (!(await signedBy(cert, next.cert))) throw certificateRejected('bad_certificate_signature', cert.subject);
      continue;
    }
    const candidates = anchors.issuersOf(cert);
    if (candidates.length === 0) throw certificateRejected('unknown_trust_anchor', cert.subject);
    for (const candidate of candidates) if (await signedBy(cert, candidate.cert)) anchor = candidate;
    if (!anchor) throw certificateRejected('bad_certificate_signature', cert.subject);
    checkValidity(anchor.cert, at);
  }
  if (!anchor) throw certificateRejected('unknown_trust_anchor', parsed[0]?.cert.subject ?? 'leaf');
  const leaf = (parsed[0] as Parsed).cert;
  const key = publicKeyFromSpki(new Uint8Array(leaf.publicKey.rawData));
  if (!key || key.kind === 'x25519') throw certificateRejected('unsupported_key', leaf.subject);
  return {
    fingerprint: certificateFingerprint((parsed[0] as Parsed).der),
    subject: leaf.subject,
    issuer: leaf.issuer,
    serialNumber: leaf.serialNumber,
    notBefore: leaf.notBefore.toISOString(),
    notAfter: leaf.notAfter.toISOString(),
    publicKey: { kind: key.kind, bytes: key.publicKey },
    anchor: { fingerprint: certificateFingerprint(anchor.der), subject: anchor.cert.subject },
  };
};
