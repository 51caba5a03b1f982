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

/** The hello's manufacturer chain as verified by the hello alone: what a run keeps of it, never the chain itself. */
export interface VerifiedChain {
  /** The leaf as sent (base64url DER), to compare with the recorded certificate; dropped with the check's result. */
  readonly leaf: string;
  readonly certificate: NonNullable<ProvisioningOutcome['manufacturerCertificate']>;
}

/**
 * IDevID bootstrap (SER-SWIR-04), what the hello alone shows: its chain must verify now against `trustAnchors` and
 * certify the bootstrap key the hello claims. Refused at once, alike for every hello and before the bootstrap is looked
 * up (`checkRecordedCertificate` then compares with the record). Certificates off the validated path are ignored, as
 * pre-provisioning ignores them (a root, a cross-certificate, a duplicate; review 304); a run keeps nothing of the
 * chain, so junk added to it costs a pending run nothing (review 297).
 */
export const verifyManufacturerChain = async (
  step: string,
  hello: ProvisioningHello,
  trustAnchors: TrustAnchors | undefined,
  now: Date,
): Promise<VerifiedChain | undefined> => {
  const chain = hello.certificateChain;
  if (chain === undefined) return undefined;
  const { kind, fingerprint } = hello.bootstrap;
  if (kind === 'psk256') throw protocolFailure(step, 'credential_mismatch', 'a PSK bootstrap has no manufacturer certificate');
  if (!trustAnchors) throw protocolFailure(step, 'certificate_rejected', 'no manufacturer trust anchors configured');
  try {
    const verified = await verifyCertificateChain(chain.map((c) => fromBase64url(c)), trustAnchors, now);
    if (verified.publicKey.kind !== kind || publicKeyFingerprint(kind, verified.publicKey.bytes) !== fingerprint) {
      throw protocolFailure(step, 'credential_mismatch', 'certificate does not certify the bootstrap key');
    }
    return {
      leaf: chain[0] as string,
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

/**
 * The verified chain (`verifyManufacturerChain`) against the manufacturer certificate recorded for the claimed
 * bootstrap (`descriptor`: undefined when the Enrolment Function holds no bootstrap of that fingerprint and kind for
 * the node): it must start with it. What rests on the record (no chain where a certificate is recorded, a chain where
 * none is or another one) is `concealed`: refused at the hello, it told anyone holding a device's public chain
 * whether the Enrolment Function had recorded the node (seeds 002/004, SER-001).
 */
export const checkRecordedCertificate = (
  step: string,
  chain: VerifiedChain | undefined,
  descriptor: CredentialDescriptor | undefined,
): ManufacturerCheck => {
  const recorded = descriptor === undefined || descriptor.kind === 'psk256' ? undefined : descriptor.certificate;
  if (chain === undefined) {
    return recorded === undefined ? {} : { concealed: protocolFailure(step, 'credential_mismatch', 'no certificate chain, where the bootstrap has a recorded manufacturer certificate') };
  }
  if (recorded === undefined || chain.leaf !== recorded) {
    return { concealed: protocolFailure(step, 'credential_mismatch', 'certificate chain does not match the recorded manufacturer certificate') };
  }
  return { certificate: chain.certificate };
};
