import { sameBytes, type ParsedCertificate } from './certificate.ts';

/** At most this many intermediates between the leaf and the anchor; manufacturer PKIs are shallow (RFC 4158 limits). */
export const MAX_INTERMEDIATES = 4;
/** At most this many certificates presented (leaf and candidate intermediates). */
export const MAX_PRESENTED = 8;

export interface CandidatePath {
  /** Leaf first, then intermediates towards the anchor. */
  readonly certs: readonly ParsedCertificate[];
  readonly anchor: ParsedCertificate;
}

/** What the search met besides paths, to name the refusal when none validates. */
export interface SearchNotes {
  /** A path continued beyond MAX_INTERMEDIATES. */
  tooLong: boolean;
  /** An issuer name matched a candidate's subject as text but not as encoded bytes. */
  textOnlyMatch: boolean;
}

/**
 * Candidate paths from `leaf` to an anchor through the unordered `intermediates` (RFC 4158 forward building): each
 * link chains on the encoded names (RFC 5280 4.1.2.4: a CA encodes its subject exactly as its certificates encode the
 * issuer), no certificate twice, no more than MAX_INTERMEDIATES. Anchors are tried before longer paths.
 * Signatures and the other rules are checked by the caller, which stops at the first path that validates.
 */
export function* candidatePaths(
  leaf: ParsedCertificate,
  intermediates: readonly ParsedCertificate[],
  anchors: readonly ParsedCertificate[],
  notes: SearchNotes,
): Generator<CandidatePath> {
  function* extend(path: readonly ParsedCertificate[]): Generator<CandidatePath> {
    const last = path[path.length - 1] as ParsedCertificate;
    const issuerMatches = (c: ParsedCertificate): boolean => {
      if (sameBytes(c.raw.subject, last.raw.issuer)) return true;
      if (c.cert.subject === last.cert.issuer) notes.textOnlyMatch = true;
      return false;
    };
    for (const anchor of anchors) if (issuerMatches(anchor)) yield { certs: path, anchor };
    const next = intermediates.filter((c) => !path.includes(c) && issuerMatches(c));
    if (next.length > 0 && path.length > MAX_INTERMEDIATES) {
      notes.tooLong = true;
      return;
    }
    for (const c of next) yield* extend([...path, c]);
  }
  yield* extend([leaf]);
}
