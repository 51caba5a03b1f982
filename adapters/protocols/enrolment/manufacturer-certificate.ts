import { isCredenceError } from '../../../domain/errors.ts';
import { fromBase64url, toBase64url } from '../../../domain/crypto/base64url.ts';
import type { CredentialDescriptor } from '../../../domain/crypto/credential.ts';
import { protocolFailure } from '../../../domain/protocols/protocol.ts';
import type { ProvisioningHello, ProvisioningOutcome } from '../../../domain/protocols/enrolment-messages.ts';
import { verifyCertificateChain, type TrustAnchors } from '../../../domain/x509/chain.ts';

/**
 * IDevID bootstrap (SER-SWIR-04): the hello's chain must start with the manufacturer certificate recorded for the
 * claimed bootstrap (`descriptor`, undefined when the hello claims one the Enrolment Function does not hold) and
 * verify now against `trustAnchors`; what the run keeps of it, or undefined for a hello with no chain to a bootstrap
 * with none recorded. Refusals are `step`'s.
 */
export const checkManufacturerCertificate = async (
  step: string,
  hello: ProvisioningHello,
  descriptor: CredentialDescriptor | undefined,
  trustAnchors: TrustAnchors | undefined,
  now: Date,
): Promise<ProvisioningOutcome['manufacturerCertificate']> => {
  const recorded = descriptor === undefined || descriptor.kind === 'psk256' ? undefined : descriptor.certificate;
  if (recorded === undefined && hello.certificateChain === undefined) return undefined;
  if (recorded === undefined || hello.certificateChain?.[0] !== recorded) {
    throw protocolFailure(step, 'credential_mismatch', 'certificate chain does not match the recorded manufacturer certificate');
  }
  if (!trustAnchors) throw protocolFailure(step, 'certificate_rejected', 'no manufacturer trust anchors configured');
  try {
    const verified = await verifyCertificateChain(hello.certificateChain.map((c) => fromBase64url(c)), trustAnchors, now);
    if (descriptor === undefined || descriptor.kind === 'psk256' || verified.publicKey.kind !== descriptor.kind || toBase64url(verified.publicKey.bytes) !== descriptor.publicKey) {
      throw protocolFailure(step, 'credential_mismatch', 'certificate does not certify the bootstrap key');
    }
    return {
      fingerprint: verified.fingerprint,
      subject: verified.subject,
      notBefore: verified.notBefore,
      notAfter: verified.notAfter,
      anchorFingerprint: verified.anchor.fingerprint,
    };
  } catch (error) {
    if (isCredenceError(error, 'bad_signature') && error.problem.code === 'bad_signature') {
      throw protocolFailure(step, 'certificate_rejected', error.problem.reason);
    }
    throw error;
  }
};
