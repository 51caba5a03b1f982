import { isCredenceError } from '../../../domain/errors.ts';
import { fromBase64url, toBase64url } from '../../../domain/crypto/base64url.ts';
import { toHex } from '../../../domain/crypto/bytes.ts';
import { withoutFields } from '../../../domain/crypto/transcript.ts';
import type { ReplayCache } from '../../../domain/ports/replay-cache.ts';
import { concealing, protocolFailure } from '../../../domain/protocols/protocol.ts';
import { ASSOCIATION_VERSION } from '../../../domain/protocols/association-version.ts';
import { associationOutcome } from '../../../domain/protocols/association-outcome.ts';
import { associationLifetime, type GrantedLifetime } from '../../../domain/protocols/association-lifetime.ts';
import type { AssociationConfirm, AssociationFinish, AssociationOutcome } from '../../../domain/protocols/association-messages.ts';
import { destroyQuietly } from '../shared/destroy-quietly.ts';
import { checkProof, proofFailure, pskOf } from '../shared/proof.ts';
import { failedProof, failedProofOrKeyFault, isFailedProof, type KeptRefusal } from '../shared/failed-proofs.ts';
import { rememberAuthenticatedRun } from '../shared/replay.ts';
import { refuseDecoyFinish } from '../shared/decoy.ts';
import { deriveAssociationKeys, destroyAssociationKeys, keyConfirmationFor, proofFor, type AssociationKeys } from './session-key.ts';
import type { RegistrarOptions } from './registrar-options.ts';
import { assertCredentialStillUsable, refusalToHolder } from './registrar-still-usable.ts';
import { credentialEnd, type RealRun, type Session } from './registrar-runs.ts';

export const FINISH = 'association.finish';
const REGISTREE_AUTHENTICATION_FAILED = 'Registree authentication failed';

/**
 * The lifetime granted to a run whose Registree has proved itself: the requested one cut to the credential
 * (clause 11.3.2), which ends for its associations at the end of a standing rotation's overlap (HLR-212): `endsAt`,
 * the earlier of its end at the hello and at the finish's read. A credential too near its end for any lifetime is
 * refused `lifetime_exhausted`, which only a peer holding the credential can be told: at the hello it would tell
 * anyone that the credential ends within the margin.
 */
const grantOf = (session: RealRun, endsAt: string, now: Date, lifetimeMarginSeconds: number | undefined): GrantedLifetime =>
  associationLifetime({
    requestedSeconds: session.hello.requestedLifetimeSeconds,
    credentialNotAfter: endsAt,
    now,
    marginSeconds: lifetimeMarginSeconds ?? 60,
    step: FINISH,
  });

const earlierOf = (a: string, b: string): string => (Date.parse(b) < Date.parse(a) ? b : a);

/**
 * What a finish is refused for before its proof is checked, anyone's: a refusal here leaves the run going
 * (SessionTable.step's `admit`), so a stranger who saw the session id cannot end it with a junk finish (review 224).
 */
export const admitFinish = (session: Session, finish: AssociationFinish, association: string | undefined): void => {
  if (session.association !== association) throw protocolFailure(FINISH, 'unknown_session', 'the session belongs to another association');
  if (finish.registrarNonce !== session.challenge.registrarNonce) throw protocolFailure(FINISH, 'nonce_mismatch');
};

/**
 * The Registrar CSE's answer to a finish of `session` (Registrar.acceptFinish) that `admitFinish` admitted, `replay`
 * its part of the replay cache; or, for a finish whose proof or key confirmation does not check (a junk one from
 * whoever saw the challenge, say), its refusal with the run kept (failed-proofs.ts, review 238).
 */
export const finishRun = async (
  o: RegistrarOptions,
  replay: ReplayCache,
  session: Session,
  finish: AssociationFinish,
  now: Date,
): Promise<{ confirm: AssociationConfirm; outcome: AssociationOutcome } | KeptRefusal> => {
  const { se } = o;
  const { hello, challenge } = session;
  const before = session.transcript.length;
  const th = session.transcript.absorb(finish.type, withoutFields(finish, 'proof', 'keyConfirmation'));
  const proved = proofFor('registree', 'finish', th);
  const rewind = () => session.transcript.rewind(before);
  // A decoy run ends here for its holder, told why its credential cannot be used; anyone else gets what a failed proof
  // gets, its run kept as a real run's is.
  if (session.decoy !== undefined) {
    const { decoy, lookup } = session;
    try {
      return await refuseDecoyFinish(se, decoy, hello.credential.kind, proved, finish.proof, FINISH, REGISTREE_AUTHENTICATION_FAILED);
    } catch (error) {
      if (isFailedProof(error, FINISH, hello.credential.kind, REGISTREE_AUTHENTICATION_FAILED)) return failedProof(session, error, rewind);
      // Only a proof that verified with the credential gets the decoy's own refusal (anyone else `bad_mac` or
      // `bad_signature`): the association's `unknown_credential` for a credential that can be used is, to that
      // holder, why the association cannot be run (review 161).
      if (lookup === undefined || !isCredenceError(error, 'protocol') || error.problem.code !== 'protocol') throw error;
      if (error.problem.reason !== 'unknown_credential' || decoy.verifier === undefined) throw error;
      throw await refusalToHolder(FINISH, lookup, hello, now, error);
    }
  }
  const failed = protocolFailure(FINISH, proofFailure(session.verifier), REGISTREE_AUTHENTICATION_FAILED);
  let verified: boolean;
  try {
    verified = await checkProof(se, session.verifier, proved, finish.proof);
  } catch (error) {
    // The credential ended during the run (its PSK shredded): a failed proof to anyone else, the run kept up to the
    // third as for a wrong proof, the reason kept for the log; `unknown_credential` here, or the run ended at once (a
    // second junk finish `unknown_session`), would tell a stranger it became unusable in the run (review 393).
    return failedProofOrKeyFault(session, FINISH, error, [pskOf(session.verifier), session.psk], failed, rewind);
  }
  if (!verified) return failedProof(session, failed, rewind);
  // Revoked since the hello, say: the proof verified, so only the holder is told (registrar-still-usable.ts).
  const current = await assertCredentialStillUsable(FINISH, session.lookup, hello, now);
  // A rotation started since the hello ends the credential at its overlap's end, which the hello could not see: cut to
  // the hello's end alone, the grant outlived the overlap (review 64 F5, one step later). The earlier end holds.
  const endsAt = earlierOf(session.credentialEndsAt, credentialEnd(current));
  // The Registree has proved it holds the credential: now it may be told what lifetime the credential leaves, or
  // that it leaves none, refused before any key is derived or anything remembered.
  const grant = grantOf(session, endsAt, now, o.lifetimeMarginSeconds);
  let keys: AssociationKeys | undefined;
  try {
    keys = await deriveAssociationKeys(
      se,
      { ephemeral: session.ephemeral, peerPublicKey: fromBase64url(hello.ephemeral.publicKey), psk: session.psk },
      session.challengeTranscript,
      FINISH,
    );
    // A Finished key is an HMAC key: the 'psk256' verifier is the one that checks a MAC.
    if (!(await checkProof(se, { kind: 'psk256', handle: keys.registreeFinished }, keyConfirmationFor('registree', th), finish.keyConfirmation))) {
      // The keys derived from this ECDH go; the run's ephemeral key stays (deriveAssociationKeys), so the genuine
      // finish after an altered copy still completes the run (review 274).
      await destroyAssociationKeys(se, keys);
      keys = undefined;
      // Answered exactly as a failed proof, the real detail kept for the log (`concealedRefusal`): it needs keys derived
      // from the PSK, so it cannot be checked before the proof, and a copy of the genuine finish with only its key
      // confirmation altered, told so, on a credential shredded during the run got the failed proof instead (review 405 F1;
      // seeds 002/004, SER-001).
      return failedProof(session, concealing(failed, protocolFailure(FINISH, 'bad_mac', 'Registree key confirmation failed')), rewind);
    }
    // Only now, with the initiator's proof and key confirmation verified, is the run remembered (issue 11 item 4).
    await rememberAuthenticatedRun(FINISH, replay, { claimant: hello.registreeId, nonce: hello.registreeNonce, transcriptHash: toHex(th) }, now, {
      random: o.random,
      runsPerClaimant: o.runsPerInitiator,
    });
    session.authenticated = true;
    const unsigned = {
      type: 'association.confirm' as const,
      version: ASSOCIATION_VERSION,
      sessionId: challenge.sessionId,
      registreeNonce: hello.registreeNonce,
      ...grant,
    };
    // The transcript through the confirm, grant included, is what the key confirmation covers and the outcome records.
    const final = session.transcript.absorb(unsigned.type, unsigned);
    const confirm = { ...unsigned, keyConfirmation: toBase64url(await se.mac(keys.registrarFinished, keyConfirmationFor('registrar', final))) };
    await destroyQuietly(se, keys.registreeFinished, keys.registrarFinished);
    session.done = true;
    const sessionKeys = { send: keys.registrarToRegistree, receive: keys.registreeToRegistrar };
    return { confirm, outcome: associationOutcome('registrar', hello, challenge, grant, sessionKeys, final, now) };
  } catch (error) {
    await destroyAssociationKeys(se, keys);
    throw error;
  }
};
