import { createHash } from 'node:crypto';

/** A signed CRL as served: DER, its number and times, and an entity tag for HTTP caches. */
export interface PublishedCrl {
  readonly der: Uint8Array;
  readonly crlNumber: number;
  readonly thisUpdate: number;
  readonly nextUpdate: number;
  readonly etag: string;
}

export const publishedCrl = (der: Uint8Array, crlNumber: number, thisUpdate: number, nextUpdate: number): PublishedCrl => ({
  der,
  crlNumber,
  thisUpdate,
  nextUpdate,
  etag: `"${createHash('sha256').update(der).digest('base64url').slice(0, 32)}"`,
});

/** Now, in whole seconds: what a CRL signed now says (time.ts). */
export const crlThisUpdate = (now: () => number): number => Math.floor(now() / 1000) * 1000;
