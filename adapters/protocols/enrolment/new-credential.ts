import type { CredenceError } from '../../../domain/errors.ts';
import { fromBase64url, toBase64url } from '../../../domain/crypto/base64url.ts';
import type { CredentialDescriptor } from '../../../domain/crypto/credential.ts';
import { publicKeyFingerprint } from '../../../domain/crypto/fingerprint.ts';
import { checkPublicKey } from '../../../domain/crypto/public-key.ts';
import { verifySignature } from '../../../domain/crypto/signatures.ts';
import type { KeyHandle, OwnedSecureEnvironment } from '../../../domain/ports/secure-environment.ts';
import type { RandomSource } from '../../../domain/ports/random.ts';
import { protocolFailure } from '../../../domain/protocols/protocol.ts';
import { deliveryAad, proofFor } from '../../../domain/protocols/provisioning-proofs.ts';
import type { ProvisioningAuth, ServiceParameters } from '../../../domain/protocols/enrolment-messages.ts';
import { destroyQuietly } from '../shared/destroy-quietly.ts';
import { certificateToIssue, type CertificateIssuance } from './certificate-issuance.ts';
import type { RunBase } from './enrolment-runs.ts';
import { deliveryKey } from './key-delivery.ts';

const AUTH = 'provisioning.auth';

/** What every new credential of a run says besides its key: the validity granted in the challenge, the node. */
type Common = Pick<CredentialDescriptor, 'validity' | 'owner'>;

const PSK_NEEDS_NO_KEY = 'a PSK needs no node key';

/**
 * The refusal of an auth whose proof of possession is not the node's, asked before its run is remembered
 * (EnrolmentFunction.acceptAuth), or undefined. The auth proof covers every field but `proof` and `proofOfPossession`,
 * so a copy of the node's auth with only its proof of possession altered (or one added to a PSK run's auth) passes the
 * proof check: refused here, the caller keeps the run for the genuine auth, a failed proof (review 274: refused after
 * the run was remembered, it ended the run). A key the node sent that cannot be checked is left to `acceptNodeKey`
 * (`malformed`): the auth proof covers it, so it is the node's own message.
 */
export const proofOfPossessionRefusal = (kind: CredentialDescriptor['kind'], auth: ProvisioningAuth, th: Uint8Array): CredenceError | undefined => {
  if (kind === 'psk256') return auth.proofOfPossession === undefined ? undefined : protocolFailure(AUTH, 'unsupported', PSK_NEEDS_NO_KEY);
  if (auth.credentialPublicKey === undefined) return undefined;
  const publicKey = fromBase64url(auth.credentialPublicKey);
  if (!checkPublicKey(kind, publicKey).ok) return undefined;
  const pop = auth.proofOfPossession === undefined ? undefined : fromBase64url(auth.proofOfPossession);
  return pop && verifySignature(kind, publicKey, proofFor('node', 'proof-of-possession', th), pop) ? undefined : protocolFailure(AUTH, 'bad_proof_of_possession');
};

/**
 * A PSK run's auth carries no node key (no key, proof of possession or CSR): asked before the run is remembered, as
 * every refusal that makes no key is (EnrolmentFunction.acceptAuth, review 319), and again by `deliverPsk`.
 */
export const assertNoNodeKey = (auth: ProvisioningAuth): void => {
  if (auth.credentialPublicKey !== undefined || auth.proofOfPossession !== undefined || auth.csr !== undefined) {
    throw protocolFailure(AUTH, 'unsupported', PSK_NEEDS_NO_KEY);
  }
};

/**
 * psk256: a new PSK made in the Secure Environment and wrapped for the node under a key agreed from the run's
 * ephemerals (`th`, the transcript hash so far). Until the receipt confirms the delivery the infrastructure's copy
 * is a session key on `run` (a run that times out or dies with the process leaves no stored copy); the run's
 * ephemeral goes either way. Returns the descriptor and the wrapped key the delivery carries.
 */
export const deliverPsk = async (
  se: OwnedSecureEnvironment,
  run: Pick<RunBase, 'hello' | 'ephemeral' | 'credentialKeyHandle' | 'delivery'>,
  auth: ProvisioningAuth,
  th: Uint8Array,
  common: Common,
): Promise<{ readonly credential: CredentialDescriptor; readonly wrappedKey: string }> => {
  assertNoNodeKey(auth);
  // The key-encryption key first: a refused agreement (a low-order point) must leave no PSK made for the run.
  const kek = await deliveryKey(se, run.ephemeral as KeyHandle, fromBase64url(run.hello.ephemeral?.publicKey ?? ''), th, AUTH);
  let temporary: KeyHandle | undefined;
  try {
    temporary = await se.generate('psk256', { ephemeral: true, extractable: true });
    const credential: CredentialDescriptor = { kind: 'psk256', fingerprint: (await se.describe(temporary)).fingerprint, ...common };
    const aad = deliveryAad(th, credential);
    const wrapped = await se.wrap(temporary, kek, aad);
    // Kept on the run as soon as made, so that the run's cleanup finds them whenever it ends.
    run.credentialKeyHandle = await se.unwrap(kek, wrapped, aad, { kind: 'psk256', ephemeral: true });
    run.delivery = { kek, wrapped, aad };
    return { credential, wrappedKey: toBase64url(wrapped) };
  } finally {
    await destroyQuietly(se, temporary, run.delivery === undefined ? kek : undefined, run.ephemeral);
  }
};

/**
 * ed25519 or p256: the public key the node generated, with its proof of possession over this run's transcript (RS-16,
 * SER-021), and, when this function has a CA for the node (issue 13), the certificate its CSR asks for, checked now
 * and kept on `run` to be signed once the receipt is verified (certificate-issuance.ts).
 */
export const acceptNodeKey = (
  run: Pick<RunBase, 'hello' | 'certificate'>,
  auth: ProvisioningAuth,
  th: Uint8Array,
  common: Common,
  issuance: { readonly certificates: CertificateIssuance | undefined; readonly random: RandomSource; readonly serviceParameters: ServiceParameters },
  predecessorFingerprint?: string,
): CredentialDescriptor => {
  const kind = run.hello.credentialKind;
  // The caller sends a PSK run to deliverPsk; this narrows the kind to the signing kinds.
  if (kind === 'psk256') throw new Error('acceptNodeKey: a PSK has no node key');
  if (auth.credentialPublicKey === undefined) throw protocolFailure(AUTH, 'malformed', `credentialPublicKey: a ${kind} credential needs the key the node generated`);
  const publicKey = fromBase64url(auth.credentialPublicKey);
  // A key checkPublicKey refuses is told with its rule, as everywhere (review 207): `malformed`, not the
  // `credential_mismatch` of a key already certified, since it is about the bytes this node sent and tells nothing of
  // another node's keys (SER-010). It is refused before the key is fingerprinted or looked up.
  const checked = checkPublicKey(kind, publicKey);
  if (!checked.ok) throw protocolFailure(AUTH, 'malformed', `credentialPublicKey: ${checked.rule}: ${checked.message}`);
  // Checked before the run was remembered (proofOfPossessionRefusal); again here, so that no key is accepted without it.
  const pop = auth.proofOfPossession === undefined ? undefined : fromBase64url(auth.proofOfPossession);
  if (!pop || !verifySignature(kind, publicKey, proofFor('node', 'proof-of-possession', th), pop)) {
    throw protocolFailure(AUTH, 'bad_proof_of_possession');
  }
  // A new key, neither the factory one the node authenticated with nor a rotation's predecessor's (review 195; seed
  // 003, 11.3.2): refused here, before a certificate is made for it at the receipt, as the credential machine would
  // refuse its record (keyIsNew).
  const fingerprint = publicKeyFingerprint(kind, publicKey);
  if (fingerprint === run.hello.bootstrap.fingerprint) throw protocolFailure(AUTH, 'credential_mismatch', 'the new credential carries the bootstrap key; a new key is needed');
  if (fingerprint === predecessorFingerprint) throw protocolFailure(AUTH, 'credential_mismatch', "the new credential carries its predecessor's key; a new key is needed");
  run.certificate = certificateToIssue(issuance.certificates, issuance.random, {
    csr: auth.csr,
    credentialKey: { kind, bytes: publicKey },
    nodeId: run.hello.nodeId,
    serviceParameters: issuance.serviceParameters,
    validity: common.validity,
  });
  return { kind, fingerprint, publicKey: auth.credentialPublicKey as string, ...common };
};
