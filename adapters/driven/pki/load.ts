import { fromBase64url } from '../../../domain/crypto/base64url.ts';
import { constantTimeEqual } from '../../../domain/crypto/bytes.ts';
import { isKeyNotFound, validationError, type CredenceError } from '../../../domain/errors.ts';
import { certifiedPublicKey, type SubscriptionCa } from '../../../domain/x509/issuance/index.ts';
import type { OwnedSecureEnvironment } from '../../../domain/ports/secure-environment.ts';
import type { CaId, IssuingCa, X509Signer } from '../../../domain/x509/issuing-ca.ts';
import { caIds, PKI_DIR, readCaFile, type CaFile } from './ca-file.ts';
import { caKeyMissing, caSigningKeyMissing } from './ca-key.ts';
import { KeyPresence } from './key-presence.ts';
import { assertOneCaPerSubscription } from './one-ca-per-subscription.ts';
import { seSigner } from './se-signer.ts';

/** Whether each loaded CA's key was last found missing (`caSigningKeyMissingNow`), by its signer. */
const presences = new WeakMap<X509Signer, KeyPresence>();

/**
 * Why CA `ca`'s key cannot sign now: the `caSigningKeyMissing` its last signature met, until one goes through or the
 * key is found again (looked for at most every few seconds); undefined when none was refused, or for a CA not loaded
 * by `issuingCaOf`. For GET /readyz: no Secure Environment call while the key signs.
 */
export const caSigningKeyMissingNow = (ca: Pick<IssuingCa, 'signer'>): Promise<CredenceError | undefined> =>
  presences.get(ca.signer)?.missing() ?? Promise.resolve(undefined);

/**
 * `work` on CA `file`'s key, its refusal for want of that key (the port's bare "key key_… does not exist", naming
 * neither the CA nor its file) said as the start says it: `caKeyMissing`, the CA, its file and what to do. The start,
 * `ca renew` and `ca install` (review 364) refuse a missing CA key alike.
 */
export const namingMissingCaKey = <T>(file: Pick<CaFile, 'id' | 'keyHandle'>, work: Promise<T>): Promise<T> =>
  work.catch((error: unknown) => {
    throw isKeyNotFound(error, file.keyHandle) ? caKeyMissing(file) : error;
  });

/**
 * An active CA file as an IssuingCa, its signer over `se` (the infrastructure owner's view of the data folder's SE).
 * The certificate must certify that very key: a file edited by hand, or a handle pointing at another key, would
 * otherwise issue certificates no relying party can validate; it fails the load instead, naming the CA. So does a
 * key the Secure Environment no longer holds (`caKeyMissing`, which says what to do).
 */
export const issuingCaOf = async (file: Extract<CaFile, { state: 'active' }>, se: OwnedSecureEnvironment): Promise<SubscriptionCa> => {
  const certificate = fromBase64url(file.certificate);
  // Review 203: the port's bare "key key_… does not exist" named neither the CA nor its file; the start stopped on it.
  const signer = await namingMissingCaKey(file, seSigner(se, file.keyHandle, file.keyKind));
  const certified = certifiedPublicKey(certificate);
  if (certified === undefined || certified.kind !== signer.kind || !constantTimeEqual(certified.bytes, signer.publicKey)) {
    throw validationError(
      [{ path: `${PKI_DIR}/${file.id}.ca.json: certificate`, rule: 'certifies_ca_key', message: `does not certify the Secure Environment key ${file.keyHandle} of CA ${file.id}` }],
      'issuing CA file',
    );
  }
  // Review 332: deleted while the service runs, the port's bare not_found was a 500 at a provisioning receipt naming
  // only a handle, and nothing made the service unready. Said as the start says it, as a Secure Environment fault.
  const presence = new KeyPresence(
    () => file.keyHandle,
    () => caSigningKeyMissing(file),
    () => se.describe(file.keyHandle),
  );
  const named: X509Signer = Object.freeze({ kind: signer.kind, publicKey: signer.publicKey, sign: (tbs: Uint8Array) => presence.use(() => signer.sign(tbs)) });
  presences.set(named, presence);
  return { id: file.id, subscription: file.subscription, certificate, chain: file.chain.map((c) => fromBase64url(c)), signer: named };
};

/**
 * The data folder's issuing CAs, for the service to load at start (issue 13): every active CA of `<data>/pki/`;
 * empty when there is none. One still awaiting its certificate cannot issue: it is not among them, but named in
 * `awaitingCertificate`, so that its subscription's nodes are refused rather than certified by `default` (review 287,
 * issuingCaFor) and the start warns of it. A CA file that does not parse, or whose key the Secure Environment does
 * not hold, fails the start with an error naming it; so do two CAs certifying one M2M Service Subscription, naming
 * both (review 355).
 */
export const loadIssuingCas = async (
  dataDir: string,
  se: OwnedSecureEnvironment,
): Promise<SubscriptionCa[] & { readonly awaitingCertificate: readonly CaId[]; readonly awaitingSubscriptions: ReadonlyMap<CaId, string> }> => {
  const files = caIds(dataDir).flatMap((id) => readCaFile(dataDir, id) ?? []);
  // Review 355: two CAs of one subscription would certify its nodes by whichever was read first.
  assertOneCaPerSubscription(files);
  const cas: SubscriptionCa[] = [];
  const awaitingCertificate: CaId[] = [];
  const awaitingSubscriptions = new Map<CaId, string>();
  for (const file of files) {
    if (file.state === 'active') cas.push(await issuingCaOf(file, se));
    else {
      awaitingCertificate.push(file.id);
      if (file.subscription !== undefined) awaitingSubscriptions.set(file.id, file.subscription);
    }
  }
  return Object.assign(cas, { awaitingCertificate, awaitingSubscriptions });
};
