import { CrlNotSigned } from './pki-ended-cas.ts';
import type { NotNow } from './pki-crl-listing.ts';
import type { PublishedCrl } from './pki-published-crl.ts';

// The CRL a publisher (pki-crl-publisher.ts) serves when it cannot issue a new one: the one issued before, while it may be.

/**
 * Runs `issue`; when it fails and `last()` (read after the failure: a complete CRL signed before its delta failed
 * counts) is within its nextUpdate, reports the failure and resolves, so that CRL is served (RFC 5280 5.1.2.5).
 * Otherwise rejects with the failure. What could not be issued stays due: the next fetch or tick tries again.
 */
export const issuedOrValid = async (
  issue: () => Promise<unknown>,
  last: () => PublishedCrl | undefined,
  of: { readonly caId: string; readonly kind: 'complete' | 'delta'; readonly now: () => number; readonly onError?: (error: unknown) => void },
): Promise<void> => {
  try {
    await issue();
  } catch (error) {
    const crl = last();
    // A retired CA's last CRL is not served in place of one it may not sign (docs/pki.md, "A CA whose chain has ended").
    if (error instanceof CrlNotSigned || crl === undefined || of.now() >= crl.nextUpdate) throw error;
    const message = error instanceof Error ? error.message : String(error);
    of.onError?.(
      new Error(`CA ${of.caId}: a CRL could not be issued (${message}); the ${of.kind} CRL ${crl.crlNumber}, valid until ${new Date(crl.nextUpdate).toISOString()}, is served`, {
        cause: error,
      }),
    );
  }
};

/** `crl`, issued before, served while nothing new can be signed (the read model incomplete: `notNow`); `notNow` without one. */
export const issuedBefore = (crl: PublishedCrl | undefined, notNow: NotNow): PublishedCrl => {
  if (crl === undefined) throw notNow;
  return crl;
};
