import { crlThisUpdate } from './pki-published-crl.ts';

/**
 * A new CRL's thisUpdate and nextUpdate, signed at `now` by a CA whose chain ends at `endsAt` (pki-ended-cas.ts), or
 * undefined when it would be valid for no time at all. nextUpdate is when the next CRL will be issued (RFC 5280
 * 5.1.2.5), and a CA whose chain has ended issues none, nor may a relying party trust a CRL past its issuer's validity:
 * so it is `validityMs` after thisUpdate, but no later than the end (in whole seconds, as both are written, time.ts).
 * A CA that ends within the second the CRL would be dated in gets none (docs/pki.md): it would tell a relying party
 * nothing, and RFC 5280 has no CRL whose nextUpdate is its thisUpdate.
 */
export const crlTimes = (now: number, validityMs: number, endsAt: number): { thisUpdate: number; nextUpdate: number } | undefined => {
  const thisUpdate = crlThisUpdate(() => now);
  const nextUpdate = Math.min(thisUpdate + validityMs, Math.floor(endsAt / 1000) * 1000);
  return nextUpdate > thisUpdate ? { thisUpdate, nextUpdate } : undefined;
};
