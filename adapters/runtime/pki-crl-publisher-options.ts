import type { PkiFloor } from './pki-complete.ts';
import type { IssuingCa } from '../../domain/x509/issuing-ca.ts';
import type { CrlBaseStore } from '../driven/pki/crl-base.ts';
import type { CrlExpiryMarks } from '../driven/pki/crl-expiry-marks.ts';
import type { CrlNumbers } from '../driven/pki/crl-numbers.ts';
import type { PublishedRevocation } from '../driven/pki/published-revocations.ts';
import type { CommittedReadModel } from './pki-committed.ts';
import type { FailuresEnded, PublishedLedger } from './pki-published.ts';

export interface CrlPublisherOptions {
  /** The `pki` read model as committed (pki-committed.ts): never what an open projection batch wrote. */
  readonly reads: CommittedReadModel;
  /** A position the read model must have projected before anything is signed from it (pki-complete.ts `pkiStartFloor`). */
  readonly mustReach?: PkiFloor;
  readonly ca: IssuingCa;
  readonly urls: { readonly deltaCrl: string };
  readonly numbers: CrlNumbers;
  /** Which expired entries were listed on a complete CRL beyond their expiry, and when (default: in memory). */
  readonly marks?: CrlExpiryMarks;
  /** Every revocation this CA listed on a CRL (default: in memory); shared with its OCSP responder. */
  readonly published?: PublishedLedger;
  /**
   * Called when the read model, read whole, lacks revocations this CA published (an event store restored from an
   * older backup): they stay listed, and these are the credentials to revoke again.
   */
  readonly onPublishedNotInLog?: (revocations: readonly PublishedRevocation[]) => void;
  readonly now: () => number;
  /** nextUpdate - thisUpdate of a complete CRL (default 24 h); it is issued again once half of it has passed. */
  readonly validityMs?: number;
  /**
   * nextUpdate - thisUpdate of a delta CRL (default 1 h, at most `validityMs`); it is issued again once half of it has
   * passed. A relying party may keep a CRL until its nextUpdate: a delta as long-lived as the complete CRL would tell
   * it of a revocation no sooner than the complete CRL does, which is what deltas are for (RFC 5280 5.2.4).
   */
  readonly deltaValidityMs?: number;
  /** Revocations recorded within this many ms of the first share one delta CRL (default 2 ms). */
  readonly coalesceMs?: number;
  /**
   * Entries a delta may list before the complete CRL signed then becomes the next base (default 1024), once every
   * complete CRL numbered below it has passed its nextUpdate: bounds a delta's cost to that many plus what is revoked
   * within one CRL validity.
   */
  readonly rebaseAfter?: number;
  /** The base of the deltas, kept across restarts (default: in memory, crl-base.ts). */
  readonly base?: CrlBaseStore;
  /**
   * Revocations per read of the read model (default 5,000); a longer list is read whole, page after page, with a turn
   * of the event loop between two.
   */
  readonly readPage?: number;
  readonly onError?: (error: unknown) => void;
  /** A run of failures to record what its CRLs are to list ended (onError told its first): new CRLs can list them. */
  readonly onRecovered?: (ended: FailuresEnded) => void;
}

export const DEFAULT_CRL_VALIDITY_MS = 24 * 60 * 60 * 1000;
export const DEFAULT_DELTA_CRL_VALIDITY_MS = 60 * 60 * 1000;

/** A complete and a delta CRL's validities as `options` give them, defaults filled in; a programming mistake throws naming the option. */
export const crlValiditiesOf = (options: Pick<CrlPublisherOptions, 'validityMs' | 'deltaValidityMs'>): { validityMs: number; deltaValidityMs: number } => {
  const validityMs = options.validityMs ?? DEFAULT_CRL_VALIDITY_MS;
  if (!Number.isSafeInteger(validityMs) || validityMs < 2000) throw new RangeError('validityMs: must be a whole number of ms >= 2000');
  const deltaValidityMs = options.deltaValidityMs ?? Math.min(DEFAULT_DELTA_CRL_VALIDITY_MS, validityMs);
  if (!Number.isSafeInteger(deltaValidityMs) || deltaValidityMs < 2000 || deltaValidityMs > validityMs) {
    throw new RangeError(`deltaValidityMs: must be a whole number of ms from 2000 to validityMs (${validityMs})`);
  }
  return { validityMs, deltaValidityMs };
};
