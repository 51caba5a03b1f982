import { ocspErrorResponseDer, type OcspErrorStatus } from '../../domain/x509/revocation/index.ts';
import type { CachedOcspAnswer } from './pki-ocsp-cache.ts';

export interface OcspAnswer {
  readonly der: Uint8Array;
  /** What the answer says, for logs and metrics: a response status, or `successful` and the certificate statuses. */
  readonly outcome: OcspErrorStatus | 'successful';
  /** Why a request was refused (never sent to the client: RFC 6960 error responses carry the status only). */
  readonly reason?: string;
  /** A response without nonce about one certificate, good for an HTTP cache until `nextUpdate` (RFC 5019 6). */
  readonly cacheable: boolean;
  readonly producedAt?: number;
  readonly nextUpdate?: number;
}

export const fromCache = (known: CachedOcspAnswer): OcspAnswer => ({
  der: known.der,
  outcome: 'successful',
  cacheable: true,
  producedAt: known.producedAt,
  nextUpdate: known.nextUpdate,
});

export const refusal = (status: OcspErrorStatus, reason: string): OcspAnswer => ({ der: ocspErrorResponseDer(status), outcome: status, reason, cacheable: false });
