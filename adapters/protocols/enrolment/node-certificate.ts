import { constantTimeEqual } from '../../../domain/crypto/bytes.ts';
import { fromBase64url } from '../../../domain/crypto/base64url.ts';
import type { CredentialDescriptor } from '../../../domain/crypto/credential.ts';
import type { KeyHandle, OwnedSecureEnvironment } from '../../../domain/ports/secure-environment.ts';
import { protocolFailure } from '../../../domain/protocols/protocol.ts';
import { buildCertificationRequest, certifiedPublicKey, nodeSubject, nodeUris, x509Signature } from '../../../domain/x509/issuance/index.ts';

/**
 * The CSR of the new key (RFC 2986), signed inside the Secure Environment: CN = Node-ID and urn:onem2m:node:. The
 * node does not know its CSE-ID yet (it comes in the delivery, after the node's proof); the issuing CA names the
 * certificate from what the Enrolment Function knows, and the CSR is the proof of possession. The port signs P-256
 * as r||s; X.509 carries DER (x509Signature).
 */
export const nodeCertificationRequest = async (
  se: OwnedSecureEnvironment,
  handle: KeyHandle,
  nodeId: string,
  kind: 'ed25519' | 'p256',
  publicKey: Uint8Array,
): Promise<Uint8Array> =>
  buildCertificationRequest({
    key: { kind, bytes: publicKey },
    subject: nodeSubject(nodeId).name,
    uris: nodeUris({ nodeId }),
    sign: async (info) => x509Signature(kind, await se.sign(handle, info)),
  });

/**
 * The node's new credential with the certificate its issuing CA made from the CSR. The Enrolment Function hands it
 * over once the credential is recorded (with the answer to the receipt), never before: a certificate no event records
 * could never be revoked. It must certify the key the node generated: one of another key would authenticate someone
 * else (issue 13). Refused as `credential_mismatch` at `step`.
 */
export const withCertificate = (credential: CredentialDescriptor, certificate: string, step: string): CredentialDescriptor => {
  const certified = certifiedPublicKey(fromBase64url(certificate));
  if (credential.kind === 'psk256' || certified?.kind !== credential.kind || !constantTimeEqual(certified.bytes, fromBase64url(credential.publicKey))) {
    throw protocolFailure(step, 'credential_mismatch', 'the certificate does not certify the key this node generated');
  }
  return { ...credential, certificate };
};
