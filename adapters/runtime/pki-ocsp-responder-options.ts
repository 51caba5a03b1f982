import type { PkiFloor } from './pki-complete.ts';
import type { IssuingCa } from '../../domain/x509/issuing-ca.ts';
import type { OcspResponderCredential } from '../driven/pki/ocsp-signing-key.ts';
import type { CommittedReadModel } from './pki-committed.ts';
import type { FailuresEnded, PublishedLedger } from './pki-published.ts';

export interface OcspResponderOptions {
  /** The `pki` read model as committed (pki-committed.ts): never what an open projection batch wrote. */
  readonly reads: CommittedReadModel;
  /** A position the read model must have projected before anything is answered from it (pki-complete.ts `pkiStartFloor`). */
  readonly mustReach?: PkiFloor;
  readonly ca: IssuingCa;
  /** What the CA's CRLs listed: a revocation published there stays `revoked` when the event log lost it (a restore). */
  readonly published?: PublishedLedger;
  /** The current responder credential (renewed before it expires: asked for on every signature). */
  readonly credential: () => Pick<OcspResponderCredential, 'kind' | 'certificate' | 'keyHash' | 'sign'>;
  readonly now: () => number;
  /** nextUpdate - thisUpdate of each answer (default 1 h). A cached answer is signed again after a quarter of it. */
  readonly validityMs?: number;
  /**
   * Cached answers kept at most (default 100 000; the oldest go first). One per CertID as asked (hash algorithm,
   * issuer hashes, serial), at most MAX_CACHED_PER_SERIAL per certificate; an answer past its quarter is dropped.
   */
  readonly maxCached?: number;
  /** A failure, the first of its run only (signing an answer, recording a revocation it answers). */
  readonly onError?: (error: unknown) => void;
  /** A run of failures `onError` told ended: an answer was signed, or a revocation recorded, again. */
  readonly onRecovered?: (ended: FailuresEnded) => void;
}

export const DEFAULT_OCSP_VALIDITY_MS = 60 * 60 * 1000;
