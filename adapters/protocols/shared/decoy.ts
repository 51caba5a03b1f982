import { CredenceError, isKeyNotFound } from '../../../domain/errors.ts';
import { fromBase64url } from '../../../domain/crypto/base64url.ts';
import type { CredentialDescriptor, CredentialKind } from '../../../domain/crypto/credential.ts';
import { concealedRefusal, protocolFailure } from '../../../domain/protocols/protocol.ts';
import { sha256 } from '../../../domain/crypto/hash.ts';
import { signingPublicKey, type SignatureKind } from '../../../domain/crypto/signatures.ts';
import { wipe } from '../../../domain/crypto/bytes.ts';
import type { KeyHandle, OwnedSecureEnvironment } from '../../../domain/ports/secure-environment.ts';
import { checkProof, proofFailure, type CredentialKey, type ProofVerifier } from '../shared/proof.ts';
import { forgetStandInIfGone, standInPsk } from './stand-in-psk.ts';

/**
 * A decoy run: a responder's answer to a hello whose credential it cannot use (unknown, not configured for this
 * association, revoked, expired, not yet valid, its key shredded): the association Registrar's and the Enrolment
 * Function's alike. A refusal at the hello, whatever its reason, told anyone holding a Registree id or Node-ID and a
 * public fingerprint whether that credential is usable, revoked say (seeds 002 and 004 unobservability; SER-001). So
 * such a hello is answered with a challenge no one without the credential's secret can tell from a real one: a fresh
 * session id, nonce and ephemeral key, and a proof made the way a real one is (signature mode: the Registrar's own
 * signature over the transcript, the same as in a real run; PSK mode: an HMAC under the credential's key if this
 * Registrar still holds it, else under this Secure Environment view's stand-in PSK, the same for every such run,
 * `decoySigner`, stand-in-psk.ts). The run takes a pending slot in the session table as a real run does and is refused
 * at the step that checks the peer's first proof (the association finish, the provisioning auth: `refuseDecoyFinish`);
 * nothing of it is ever recorded or remembered.
 */
export interface Decoy {
  /** The real refusal, for the peer only once its proof verifies with the credential (`refuseDecoyFinish`). */
  readonly refusal: CredenceError;
  /** The credential's verifier, when this Registrar knows the credential the hello claims and can check a proof with it. */
  readonly verifier?: ProofVerifier | undefined;
  /**
   * The stand-in PSK a PSK-mode decoy challenge was MACed with when the credential's own key is not at hand
   * (`decoySigner`, stand-in-psk.ts): shared by every such run, so never destroyed with one. Never the credential's
   * key.
   */
  readonly standIn?: KeyHandle | undefined;
}

/**
 * How a proof of the claimed credential would be checked, if this Registrar knows that credential (the one it
 * resolved, matching the claimed fingerprint and kind, with a key to check against): else undefined.
 */
export const knownVerifier = (
  known: { readonly descriptor?: CredentialDescriptor; readonly handle?: KeyHandle | undefined } | undefined,
  claimed: { readonly fingerprint: string; readonly kind: string },
): ProofVerifier | undefined => {
  const d = known?.descriptor;
  if (d === undefined || d.fingerprint !== claimed.fingerprint || d.kind !== claimed.kind) return undefined;
  if (d.kind !== 'psk256') return { kind: d.kind, publicKey: fromBase64url(d.publicKey) };
  return known?.handle === undefined ? undefined : { kind: 'psk256', handle: known.handle };
};

/**
 * What a decoy challenge is proved with, by the claimed kind, as a real one would be: the Registrar's signing key
 * (refused `unsupported`, as a real run is, when it has none). PSK mode: the claimed credential's own key when this
 * Registrar knows it and still holds it (`verifier`, from `knownVerifier`), so that its holder's Registree accepts the
 * challenge and reaches the finish, where it is told why the credential cannot be used; else the view's stand-in PSK
 * (`standIn`, stand-in-psk.ts), made once, not per run: a random key per run was a `generate` a real run does not
 * make, which told a stranger by the time the hello took that no key was held for the id (review 64 F2). A stranger
 * can verify neither.
 */
export const decoySigner = async (
  se: OwnedSecureEnvironment,
  step: string,
  kind: CredentialKind,
  signingKey: (CredentialKey & { readonly kind: 'ed25519' | 'p256' }) | undefined,
  missingSigningKey: string,
  verifier?: ProofVerifier,
): Promise<{ readonly signer: CredentialKey; readonly standIn?: KeyHandle }> => {
  if (kind !== 'psk256') {
    if (!signingKey) throw protocolFailure(step, 'unsupported', missingSigningKey);
    return { signer: signingKey };
  }
  if (verifier?.kind === 'psk256') return { signer: verifier };
  const standIn = await standInPsk(se);
  return { signer: { kind: 'psk256', handle: standIn }, standIn };
};

/**
 * A decoy challenge made by `challenge` with `decoySigner`'s signer; once more with a new stand-in PSK if the
 * Secure Environment says the one it used is gone (stand-in-psk.ts), so a lost stand-in costs one retry, not every
 * later PSK-mode decoy an internal error.
 */
export const decoyChallenge = async <T>(
  se: OwnedSecureEnvironment,
  signerFor: () => ReturnType<typeof decoySigner>,
  challenge: (signer: CredentialKey, standIn: KeyHandle | undefined) => Promise<T>,
): Promise<T> => {
  const first = await signerFor();
  try {
    return await challenge(first.signer, first.standIn);
  } catch (error) {
    if (first.standIn === undefined || !forgetStandInIfGone(se, first.standIn, error)) throw error;
    const again = await signerFor();
    return challenge(again.signer, again.standIn);
  }
};

/** The real refusal behind an `unusableCredential` answer (its cause), which a decoy run keeps; any other error is thrown on. */
export const realRefusal = (error: unknown): CredenceError => {
  if (concealedRefusal(error) === undefined) throw error;
  return (error as Error).cause as CredenceError;
};

/** A fixed secret per kind, the same in every process: its public key is only ever a stand-in (`standInVerifier`). */
const STAND_IN_SECRET = (kind: SignatureKind): Uint8Array => sha256(new TextEncoder().encode(`credence association decoy stand-in ${kind}`));

const standIns = new Map<SignatureKind, Uint8Array>();

/**
 * What a decoy finish checks a proof against when this Registrar knows no key of the claimed credential, so that the
 * finish does the work of a real one (a stranger must not tell an unknown credential by the time its finish takes):
 * a valid public key of the claimed kind, made once per process from a fixed secret; in PSK mode the stand-in PSK the
 * decoy challenge was MACed with (stand-in-psk.ts). Whatever it says, the finish is refused as a failed proof.
 */
export const standInVerifier = (kind: CredentialKind, standIn: KeyHandle | undefined): ProofVerifier => {
  if (kind === 'psk256') {
    if (standIn === undefined) throw new TypeError('standIn: a PSK-mode decoy run without a known credential has the stand-in PSK');
    return { kind, handle: standIn };
  }
  let publicKey = standIns.get(kind);
  if (publicKey === undefined) {
    const secret = STAND_IN_SECRET(kind);
    publicKey = signingPublicKey(kind, secret);
    wipe(secret);
    standIns.set(kind, publicKey);
  }
  return { kind, publicKey };
};

/**
 * A proof check that a key gone from the Secure Environment (the credential shredded, the stand-in PSK lost) fails
 * instead of throwing; a lost stand-in is forgotten, so the next decoy makes another.
 */
const checkQuietly = async (se: OwnedSecureEnvironment, verifier: ProofVerifier, input: Uint8Array, proof: string, standIn: KeyHandle | undefined): Promise<boolean> => {
  try {
    return await checkProof(se, verifier, input, proof);
  } catch (error) {
    if (!isKeyNotFound(error)) throw error;
    if (standIn !== undefined) forgetStandInIfGone(se, standIn, error);
    return false;
  }
};

/**
 * The finish of a decoy run, always refused. A peer whose proof verifies with the credential holds it, and is told
 * the real reason at `step` (`credential_revoked`, `credential_expired`, ...). Anyone else gets exactly what a
 * failed proof of the claimed kind gets in a real run (`assertProof`: `bad_mac` or `bad_signature`, with the same
 * detail), so the finish tells a stranger no more than the challenge did.
 */
export const refuseDecoyFinish = async (
  se: OwnedSecureEnvironment,
  decoy: Decoy,
  claimedKind: CredentialKind,
  input: Uint8Array,
  proof: string,
  step: string,
  detail: string,
): Promise<never> => {
  // Checked against a stand-in when the credential is not known: the same work as a real finish (standInVerifier).
  const standIn = decoy.verifier === undefined ? decoy.standIn : undefined;
  const verified = await checkQuietly(se, decoy.verifier ?? standInVerifier(claimedKind, standIn), input, proof, standIn);
  // Only the credential's own key tells the real reason: a proof that checks against the stand-in proves nothing.
  if (verified && decoy.verifier !== undefined) throw atStep(decoy.refusal, step);
  throw protocolFailure(step, proofFailure({ kind: claimedKind }), detail);
};

/** `refusal`, made at another step, as a refusal of `step`: the same reason and detail. */
const atStep = (refusal: CredenceError, step: string): CredenceError => {
  const { problem } = refusal;
  if (problem.code !== 'protocol') return refusal;
  const message = refusal.message.startsWith(problem.step) ? `${step}${refusal.message.slice(problem.step.length)}` : refusal.message;
  return new CredenceError({ ...problem, step, message });
};
