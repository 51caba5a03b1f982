import { describeCertificate } from './describe.ts';
import { verifyCertificateChain, type TrustAnchors } from './chain.ts';
import { sameBytes } from './certificate.ts';
import { certificateRejected } from './rejection.ts';

/**
 * What the factory records of a manufacturer certificate (SER-SWIR-04), only once its chain validates against the
 * configured anchors at `at` and its leaf certifies the bootstrap key generated in the device's Secure Environment.
 * Without anchors nothing can be verified, so nothing is recorded (reason unknown_trust_anchor).
 */
export const verifyFactoryCertificate = async (
  chain: readonly Uint8Array[],
  anchors: TrustAnchors | undefined,
  at: Date,
  bootstrapKey: { readonly kind: 'ed25519' | 'p256'; readonly bytes: Uint8Array },
): Promise<ReturnType<typeof describeCertificate>> => {
  if (anchors === undefined) throw certificateRejected('unknown_trust_anchor', 'no manufacturer trust anchors configured');
  const verified = await verifyCertificateChain(chain, anchors, at);
  if (verified.publicKey.kind !== bootstrapKey.kind || !sameBytes(verified.publicKey.bytes, bootstrapKey.bytes)) {
    throw certificateRejected('certified_key_mismatch', verified.subject);
  }
  return describeCertificate(chain[0] as Uint8Array);
};
