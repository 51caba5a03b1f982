import { isCredenceError, type CredenceError } from '../../../domain/errors.ts';
import { fromBase64url } from '../../../domain/crypto/base64url.ts';
import type { CredentialDescriptor } from '../../../domain/crypto/credential.ts';
import { publicKeyFingerprint } from '../../../domain/crypto/fingerprint.ts';
import { protocolFailure } from '../../../domain/protocols/protocol.ts';
import type { ProvisioningHello, ProvisioningOutcome } from '../../../domain/protocols/enrolment-messages.ts';
import { verifyCertificateChain, type TrustAnchors } from '../../../domain/x509/chain.ts';

/** What the manufacturer-certificate check of a hello leaves its run. */
export interface ManufacturerCheck {
  /** What the run keeps of a chain that verified and starts with the recorded certificate. */
  readonly certificate?: ProvisioningOutcome['manufacturerCertificate'];
  /**
   * A refusal that rests on what is recorded for the claimed bootstrap: the run is a decoy (shared/decoy.ts), and only
   * the bootstrap's holder is told this, at its auth.
   */
  readonly concealed?: CredenceError;
}

/**
 * IDevID bootstrap (SER-SWIR-04): the hello's chain must verify now against `trustAnchors`, certify the bootstrap key
 * the hello claims, and start with the manufacturer certificate recorded for that bootstrap (`descriptor`: undefined
 * when the Enrolment Function holds no bootstrap of that fingerprint and kind for the node).
 *
 * What the hello alone shows to be wrong is refused at once, whatever is recorded. What rests on the record (no chain
 * where a certificate is recorded, a chain where none is or another one) is `concealed`: refused at the hello, it told
 * anyone holding a device's public chain whether the Enrolment Function had recorded the node (seeds 002/004, SER-001).
 */
export const checkManufacturerCertificate = async (
  step: string,
  hello: ProvisioningHello,
  descriptor: CredentialDescriptor | undefined,
  trustAnchors: TrustAnchors | undefined,
  now: Date,
): Promise<ManufacturerCheck> => {
  const recorded = descriptor === undefined || descriptor.kind === 'psk256' ? undefined : descriptor.certificate;
  const chain = hello.certificateChain;
  if (chain === undefined) {
    return recorded === undefined ? {} : { concealed: protocolFailure(step, 'credential_mismatch', 'no certificate chain, where the bootstrap has a recorded manufacturer certificate') };
  }
  const { kind, fingerprint } = hello.bootstrap;
  if (kind === 'psk256') throw protocolFailure(step, 'credential_mismatch', 'a PSK bootstrap has no manufacturer certificate');
  if (!trustAnchors) throw protocolFailure(step, 'certificate_rejected', 'no manufacturer trust anchors configured');
  try {
    const verified = await verifyCertificateChain(chain.map((c) => fromBase64url(c)), trustAnchors, now);
    if (verified.publicKey.kind !== kind || publicKeyFingerprint(kind, verified.publicKey.bytes) !== fingerprint) {
      throw protocolFailure(step, 'credential_mismatch', 'certificate does not certify the bootstrap key');
    }
    if (recorded === undefined || chain[0] !== recorded) {
      return { concealed: protocolFailure(step, 'credential_mismatch', 'certificate chain does not match the recorded manufacturer certificate') };
    }
    return {
      certificate: {
        fingerprint: verified.fingerprint,
        subject: verified.subject,
        notBefore: verified.notBefore,
        notAfter: verified.notAfter,
        anchorFingerprint: verified.anchor.fingerprint,
      },
    };
  } catch (error) {
    if (isCredenceError(error, 'bad_signature') && error.problem.code === 'bad_signature') {
      throw protocolFailure(step, 'certificate_rejected', error.problem.reason);
    }
    throw error;
  }
};
