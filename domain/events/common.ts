import { z } from 'zod';
import { base64urlLength } from '../crypto/base64url.ts';
import { AppId, NodeId } from '../ids.ts';

/**
 * Revocation reasons are RFC 5280 CRLReason codes (section 5.3.1), by name: every one a stored event may hold, so that
 * a log stays readable. A new revocation may not give `certificateHold` or `aACompromise` (domain/commands/
 * revocation-rules.ts); `removeFromCRL` is no revocation reason at all and is in neither list.
 */
/** What a `removeFromCRL` given as a revocation reason is told (here and at the command boundary). */
export const REMOVE_FROM_CRL_IS_NO_REASON = 'removeFromCRL releases a certificateHold on a delta CRL (RFC 5280 5.3.1): it is never a revocation reason';

export const RevocationReason = z.enum(
  ['unspecified', 'keyCompromise', 'cACompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation', 'certificateHold', 'privilegeWithdrawn', 'aACompromise'],
  { error: (issue) => (issue.input === 'removeFromCRL' ? REMOVE_FROM_CRL_IS_NO_REASON : undefined) },
);
export type RevocationReason = z.infer<typeof RevocationReason>;

/** The numeric CRLReason value of RFC 5280 section 5.3.1 (7 is unused there). */
export const CRL_REASON_CODE: Readonly<Record<RevocationReason, number>> = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  privilegeWithdrawn: 9,
  aACompromise: 10,
};

/** The kind of entity a credential is bound to (RS-01: service/application identities bound to device identities). */
export const OwnerKind = z.enum(['node', 'cse', 'ae', 'app']);
export type OwnerKind = z.infer<typeof OwnerKind>;

/**
 * Whom a credential is issued to. A CSE-ID or AE-ID is held by someone else, and the credential is decided against
 * that holder (RS-01; review 41): a `cse` owner names the node that holds the CSE-ID (`nodeId`), an `ae` owner the
 * App-ID the AE is an instance of (`appId`). New commands must name it (`ownerNamesItsHolder`, commands only); events
 * stored before review 41 lack it and stay readable and replayable as they were decided (nothing read for them).
 */
export const Owner = z.object({
  kind: OwnerKind,
  id: z.string().min(1).max(128),
  /** The node holding the CSE-ID of a `cse` owner (never set for another kind). */
  nodeId: NodeId.optional(),
  /** The App-ID whose instance the AE of an `ae` owner is (never set for another kind). */
  appId: AppId.optional(),
});
export type Owner = z.infer<typeof Owner>;

/** `sha256:` and 64 hex digits: 71 characters. */
export const Fingerprint = z.string().max(71).regex(/^sha256:[0-9a-f]{64}$/, 'fingerprint must be sha256:<64 hex>');

/** Any base64url text; every field that carries one bounds it by what it holds (see base64urlText). */
export const Base64Url = z.string().regex(/^[A-Za-z0-9_-]*$/, 'must be base64url without padding');

/**
 * Base64url text of at most `maxBytes` bytes, or exactly `bytes.exact`. Events check the alphabet and the length,
 * not the canonical decoding (stored events stay readable as they were written); the length is checked first, so
 * oversized text is refused before the pattern reads it (SER-001).
 */
export const base64urlText = (bytes: number | { readonly exact: number }) => {
  const text = z.string();
  const bounded = typeof bytes === 'number' ? text.max(base64urlLength(bytes)) : text.length(base64urlLength(bytes.exact));
  return bounded.regex(/^[A-Za-z0-9_-]*$/, 'must be base64url without padding');
};
