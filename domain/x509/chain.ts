import { z } from 'zod';
import { validationError } from '../errors.ts';
import { base64urlString, fromBase64url } from '../crypto/base64url.ts';
import { MAX_CERTIFICATE_LENGTH, MAX_TRUST_ANCHORS } from '../crypto/sizes.ts';
import { jsonLimitIssue } from '../json-limits.ts';
import { certificateFingerprint, publicKeyFromSpki } from '../crypto/fingerprint.ts';
import { parseCertificate, sameBytes, type ParsedCertificate } from './certificate.ts';
import { candidatePaths, MAX_PRESENTED, type SearchNotes } from './path-building.ts';
import { validatePath } from './path-validation.ts';
import { checkProfile, isCa } from './profile.ts';
import { certificateRejected } from './rejection.ts';

export { certificateRejected } from './rejection.ts';
export type { CertificateRejection } from './rejection.ts';

/**
 * Manufacturer (IDevID) certificate chains checked against configured trust anchors (SER-SWIR-04: leverage
 * credentials provisioned during manufacturing) by RFC 5280 section 6.1 path validation. The outcome is what the
 * engine records: fingerprint, subject, validity, and the certified public key. Vendor types stay inside this folder.
 */
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

/** At most this many candidate paths are validated before the chain is refused (bounds the work per request). */
const MAX_CANDIDATE_PATHS = 8;

/** Configuration: the manufacturer root certificates, DER as base64url. */
export const TrustAnchorsConfig = z.array(base64urlString({ max: MAX_CERTIFICATE_LENGTH })).min(1).max(MAX_TRUST_ANCHORS);

/** A set of trust anchors (root CA certificates, DER). */
export class TrustAnchors {
  readonly #anchors: readonly ParsedCertificate[];

  private constructor(anchors: readonly ParsedCertificate[]) {
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

  /**
   * Anchors must themselves be CA certificates (else `bad_signature` with reason issuer_not_ca) and meet the
   * certificate profile, unknown critical extensions included (reason unknown_critical_extension and the like).
   */
  static fromDer(certificates: readonly Uint8Array[]): TrustAnchors {
    const anchors = certificates.map((der, i) => parseCertificate(der, `trust anchor ${i}`));
    anchors.forEach((anchor) => {
      if (!isCa(anchor.cert)) throw certificateRejected('issuer_not_ca', anchor.cert.subject);
      checkProfile(anchor);
    });
    return new TrustAnchors(anchors);
  }

  get all(): readonly ParsedCertificate[] {
    return this.#anchors;
  }

  contains(der: Uint8Array): ParsedCertificate | undefined {
    return this.#anchors.find((a) => sameBytes(a.der, der));
  }

  get size(): number {
    return this.#anchors.length;
  }
}

/**
 * Verifies `chain` (the leaf first, then intermediates in any order; a copy of the root may be among them) at
 * instant `at` by RFC 5280 section 6.1: paths are built from the leaf through the intermediates to a configured
 * anchor (at most MAX_INTERMEDIATES deep) and the first that validates is the outcome; when none does, the refusal
 * of the first candidate is reported. Certificates on no path are ignored (RFC 4158): a device may send its root, a
 * cross-certificate or a duplicate, and a chain valid by a path other than the shortest must not be refused for them.
 */
export const verifyCertificateChain = async (
  chain: readonly Uint8Array[],
  anchors: TrustAnchors,
  at: Date,
): Promise<VerifiedCertificate> => {
  if (chain.length === 0) throw new TypeError('chain must hold at least the leaf certificate');
  if (chain.length > MAX_PRESENTED) throw certificateRejected('path_too_long', `${chain.length} certificates presented`);
  const parsed = chain.map((der, i) => parseCertificate(der, i === 0 ? 'leaf' : `intermediate ${i}`));
  const leaf = parsed[0] as ParsedCertificate;
  // A presented copy of a configured root is trusted only because it is configured: it is used as the anchor.
  const intermediates = parsed.slice(1).filter((c) => anchors.contains(c.der) === undefined);
  const notes: SearchNotes = { tooLong: false, textOnlyMatch: false };
  let firstRefusal: unknown;
  let tried = 0;
  for (const path of candidatePaths(leaf, intermediates, anchors.all, notes)) {
    if (tried++ >= MAX_CANDIDATE_PATHS) break;
    try {
      await validatePath(path, at);
    } catch (error) {
      firstRefusal ??= error;
      continue;
    }
    return verified(leaf, path.anchor);
  }
  if (firstRefusal !== undefined) throw firstRefusal;
  const reason = notes.tooLong ? 'path_too_long' : notes.textOnlyMatch ? 'issuer_name_mismatch' : 'unknown_trust_anchor';
  throw certificateRejected(reason, leaf.cert.subject);
};

const verified = (leaf: ParsedCertificate, anchor: ParsedCertificate): VerifiedCertificate => {
  const cert = leaf.cert;
  const key = publicKeyFromSpki(new Uint8Array(cert.publicKey.rawData));
  if (!key || key.kind === 'x25519') throw certificateRejected('unsupported_key', cert.subject);
  return {
    fingerprint: certificateFingerprint(leaf.der),
    subject: cert.subject,
    issuer: cert.issuer,
    serialNumber: cert.serialNumber,
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    publicKey: { kind: key.kind, bytes: key.publicKey },
    anchor: { fingerprint: certificateFingerprint(anchor.der), subject: anchor.cert.subject },
  };
};
