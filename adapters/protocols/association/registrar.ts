import { fromBase64url, toBase64url } from '../../../domain/crypto/base64url.ts';
import { toHex } from '../../../domain/crypto/bytes.ts';
import type { Clock } from '../../../domain/ports/clock.ts';
import type { RandomSource } from '../../../domain/ports/random.ts';
import type { CredentialDescriptor } from '../../../domain/crypto/credential.ts';
import { CredenceError } from '../../../domain/errors.ts';
import {
  assertFresh,
  assertUsableCredential,
  concealedRefusal,
  newNonce,
  protocolFailure,
  unusableCredential,
} from '../../../domain/protocols/protocol.ts';
import { ASSOCIATION_VERSION, parseAssociationMessage } from '../../../domain/protocols/association-version.ts';
import { withoutFields, type Transcript } from '../../../domain/crypto/transcript.ts';
import { SessionTable, type Claim, type SessionBase } from '../shared/session-table.ts';
import { destroyQuietly } from '../shared/destroy-quietly.ts';
import type { KeyHandle, OwnedSecureEnvironment } from '../../../domain/ports/secure-environment.ts';
import { assertProof, proofFailure, prove, pskOf, type CredentialKey, type ProofVerifier } from '../shared/proof.ts';
import { initiatorVerifier, responderSigner } from '../shared/credential-keys.ts';
import { keyGoneAtProof, keyGoneBeforeProof } from '../shared/key-gone.ts';
import { acceptedClockSkew } from '../../../domain/protocols/clock-skew.ts';
import { wireEphemeral } from '../shared/wire-ephemeral.ts';
import { assertNewHello } from '../shared/hello-checks.ts';
import { checkRunsPerInitiator, rememberAuthenticatedRun, replayNamespace } from '../shared/replay.ts';
import { transcriptFromHello } from '../../../domain/protocols/run-transcript.ts';
import { associationOutcome } from '../../../domain/protocols/association-outcome.ts';
import { associationLifetime, type GrantedLifetime } from '../../../domain/protocols/association-lifetime.ts';
import {
  AssociationFinish,
  AssociationHello,
  type AssociationChallenge,
  type AssociationConfirm,
  type AssociationOutcome,
} from '../../../domain/protocols/association-messages.ts';
import type { ReplayCache } from '../../../domain/ports/replay-cache.ts';
import { decoySigner, knownVerifier, realRefusal, refuseDecoyFinish, type Decoy } from '../shared/decoy.ts';
import { deriveAssociationKeys, destroyAssociationKeys, keyConfirmationFor, PROTOCOL, proofFor, type AssociationKeys } from './session-key.ts';

/** The Registree's credential as the engine knows it. */
export interface RegistreeCredential {
  readonly descriptor: CredentialDescriptor;
  /** The Registrar's own handle of the shared PSK (psk256 only). */
  readonly handle?: KeyHandle;
  readonly revoked?: boolean;
}

export interface RegistrarOptions {
  /** The Registrar CSE-ID the Registrees are configured with (clause 11.3.1). */
  readonly id: string;
  /** The Secure Environment as this Registrar CSE's owner sees it (bound by whoever wires it). */
  readonly se: OwnedSecureEnvironment;
  readonly now: Clock['now'];
  readonly random: RandomSource;
  readonly replayCache: ReplayCache;
  readonly resolveCredential: (registreeId: string, fingerprint: string) => Promise<RegistreeCredential | undefined>;
  /** Authenticates this Registrar to Registrees holding asymmetric credentials. */
  readonly signingKey?: CredentialKey & { readonly kind: 'ed25519' | 'p256' };
  /** Kept between an association's end and its credential's (default 60 s). */
  readonly lifetimeMarginSeconds?: number;
  readonly maxClockSkewSeconds?: number;
  readonly sessionTimeoutSeconds?: number;
  readonly maxSessions?: number;
  /**
   * Authenticated runs one initiator may begin within the replay window (default 32, `DEFAULT_RUNS_PER_CLAIMANT`):
   * past them it alone is refused `too_many_runs`, so one compromised device cannot fill the replay cache.
   */
  readonly runsPerInitiator?: number;
}

/**
 * A handshake bound to one configured association, for a caller driven one message per request (HTTP): the hello
 * is resolved against that association only, and its finish is accepted only for the same `association`.
 */
export interface RegistrarScope {
  readonly association: string;
  readonly resolveCredential: RegistrarOptions['resolveCredential'];
  /**
   * The credential the association was configured with, whatever its state or the association's, when
   * `resolveCredential` finds none: never run with, only asked why a credential cannot be used and to check the
   * proof of a decoy run with (decoy.ts), so that its holder, and the log, are told that it was revoked, say.
   */
  readonly knownCredential?: RegistrarOptions['resolveCredential'];
}

interface RunBase extends SessionBase {
  stage: 'challenged';
  readonly hello: AssociationHello;
  readonly association: string | undefined;
  readonly transcript: Transcript;
  readonly challenge: AssociationChallenge;
  readonly challengeTranscript: Uint8Array;
  readonly ephemeral: KeyHandle;
}

interface RealRun extends RunBase {
  readonly decoy?: undefined;
  /** When the Registree's credential ends: the grant is cut to it at the finish, once the Registree has proved itself. */
  readonly credentialNotAfter: string;
  readonly verifier: ProofVerifier;
  readonly psk?: KeyHandle;
}

/** A run answering a hello whose credential cannot be used (decoy.ts): refused at its finish, never recorded. */
interface DecoyRun extends RunBase {
  readonly decoy: Decoy;
}

type Session = RealRun | DecoyRun;

/** How a challenge is proved, and what its run keeps to check the finish. */
type Opening =
  | { readonly signer: CredentialKey; readonly run: Pick<RealRun, 'credentialNotAfter' | 'verifier' | 'psk'> }
  | { readonly signer: CredentialKey; readonly run: Pick<DecoyRun, 'decoy'> };

const HELLO = 'association.hello';
const FINISH = 'association.finish';
const REGISTREE_AUTHENTICATION_FAILED = 'Registree authentication failed';

/**
 * The Registrar CSE side of the association handshake (seed 003 clause 11.3.2): mutual authentication of the
 * Registree, session keys (one per direction) with key confirmation, a lifetime strictly shorter than the
 * credential's, granted only once the Registree has proved it holds the credential, replay protection. A hello whose
 * credential cannot be used gets a decoy challenge (decoy.ts), so no answer before the finish tells whether it can.
 */
export class Registrar {
  readonly #o: RegistrarOptions;
  readonly #sessions: SessionTable<Session>;
  readonly #skew: number;
  /** This Registrar's own part of the replay cache, written only after a Registree's proof (issue 11 item 4). */
  readonly #replay: ReplayCache;

  constructor(options: RegistrarOptions) {
    this.#o = options;
    this.#skew = acceptedClockSkew(options);
    this.#replay = replayNamespace(options.replayCache, PROTOCOL, options.id);
    checkRunsPerInitiator(options.runsPerInitiator);
    this.#sessions = new SessionTable<Session>({
      timeoutSeconds: options.sessionTimeoutSeconds ?? 60,
      maxSessions: options.maxSessions,
      cleanup: (s) => destroyQuietly(options.se, s.ephemeral, s.decoy?.key),
      peerKeys: (s) => (s.decoy === undefined ? [pskOf(s.verifier), s.psk] : []),
    });
  }

  get id(): string {
    return this.#o.id;
  }

  /** Runs in flight, pending or authenticated: never more than `maxSessions` (SessionTable); for status and tests. */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  /**
   * Answers a hello with a challenge. `peer`: where the hello came from, if the transport knows (SessionTable: a flood
   * from elsewhere cannot end this run). A hello whose credential cannot be used (unknown, not configured for this
   * association, revoked, expired, not yet valid, its key shredded) is answered with a decoy challenge (decoy.ts) that
   * only the holder of the credential's secret could tell from a real one; `concealed` is told the real refusal, an
   * `unusableCredential` whose cause says why (`concealedRefusal`), for the service's log.
   */
  async acceptHello(
    input: unknown,
    scope?: RegistrarScope,
    peer?: Claim['peer'],
    concealed?: (refusal: CredenceError) => void,
  ): Promise<AssociationChallenge> {
    const hello = parseAssociationMessage(AssociationHello, input, HELLO);
    const now = this.#o.now();
    if (hello.registrarId !== this.#o.id) throw protocolFailure(HELLO, 'wrong_identity', 'addressed to another Registrar CSE');
    // A scoped run (over a connection, the association named by the path) must be the one the Registree named, in
    // the hello its proofs cover: else a handshake meant for one association could be recorded for another.
    if (scope !== undefined && hello.associationId !== scope.association) {
      throw protocolFailure(
        HELLO,
        'wrong_identity',
        hello.associationId === undefined ? 'the hello names no association (associationId)' : 'the hello names another association than this one',
      );
    }
    if (scope === undefined && hello.associationId !== undefined) {
      throw protocolFailure(HELLO, 'wrong_identity', 'a hello naming an association is answered only for that association');
    }
    assertFresh(HELLO, hello.sentAt, now, this.#skew);
    // Refused by the claimed kind alone, so alike for a credential that can be used and one that cannot.
    const missingSigningKey = 'this Registrar has no signing key for asymmetric credentials';
    if (hello.credential.kind !== 'psk256' && !this.#o.signingKey) throw protocolFailure(HELLO, 'unsupported', missingSigningKey);
    const resolved = await (scope?.resolveCredential ?? this.#o.resolveCredential)(hello.registreeId, hello.credential.fingerprint);
    let opening = this.#open(resolved, hello, now, missingSigningKey);
    let known = resolved;
    if (opening instanceof CredenceError && resolved === undefined && scope?.knownCredential !== undefined) {
      // The association cannot be run (not configured for this Registree, or ended): if its credential cannot be used
      // either, that is the real reason; if it could, the association's `unknown_credential` stays.
      known = await scope.knownCredential(hello.registreeId, hello.credential.fingerprint);
      const own = this.#open(known, hello, now, missingSigningKey);
      if (own instanceof CredenceError) opening = own;
    }
    // Nothing is written for an unauthenticated hello but a pending session, which a flood cannot keep from a
    // legitimate Registree (SessionTable); the nonce is remembered once the finish proof verifies (acceptFinish).
    // The same checks, in the same order, for a decoy run: a replay is refused alike whatever the credential.
    this.#sessions.assertNotPending(HELLO, hello.registreeNonce);
    await assertNewHello(HELLO, { ephemeral: hello.ephemeral, nonce: hello.registreeNonce }, this.#replay, now);

    let refusal: CredenceError;
    if (opening instanceof CredenceError) refusal = opening;
    else {
      try {
        return await this.#challenge(hello, now, opening, scope, peer);
      } catch (error) {
        // The credential's key went from the Secure Environment during the hello (the credential ended): a decoy run.
        refusal = realRefusal(error);
      }
    }
    // A credential that cannot be used is answered with a decoy challenge (decoy.ts), not a refusal: whether a
    // credential is usable is its lifecycle, which a stranger must not learn (seeds 002/004; SER-001). Its real reason
    // goes to the service's log (`concealed`) and, at the finish, to a peer that proves it holds the credential.
    const verifier = knownVerifier(known, hello.credential);
    let challenge: AssociationChallenge;
    try {
      challenge = await this.#decoy(hello, now, { refusal, verifier }, scope, peer, missingSigningKey);
    } catch (error) {
      // The credential's PSK, which the decoy challenge was to be MACed with, went meanwhile: under a random key then.
      if (verifier?.kind !== 'psk256' || concealedRefusal(error) === undefined) throw error;
      challenge = await this.#decoy(hello, now, { refusal }, scope, peer, missingSigningKey);
    }
    concealed?.(unusableCredential(HELLO, refusal));
    return challenge;
  }

  /** A decoy run's challenge (decoy.ts), MACed in PSK mode with the credential's key when `decoy.verifier` holds it. */
  async #decoy(
    hello: AssociationHello,
    now: Date,
    decoy: Pick<Decoy, 'refusal' | 'verifier'>,
    scope: RegistrarScope | undefined,
    peer: Claim['peer'],
    missingSigningKey: string,
  ): Promise<AssociationChallenge> {
    const { se } = this.#o;
    const { signer, key } = await decoySigner(se, HELLO, hello.credential.kind, this.#o.signingKey, missingSigningKey, decoy.verifier);
    try {
      return await this.#challenge(hello, now, { signer, run: { decoy: { ...decoy, key } } }, scope, peer);
    } catch (error) {
      await destroyQuietly(se, key);
      throw error;
    }
  }

  /** How a real run's challenge is proved and its finish checked; or, for a credential that cannot be used, why not. */
  #open(resolved: RegistreeCredential | undefined, hello: AssociationHello, now: Date, missingSigningKey: string): Opening | CredenceError {
    try {
      const known = assertUsableCredential(HELLO, resolved, hello.credential, now, hello.registreeId);
      const { descriptor } = known;
      // No lifetime is granted here: it is cut to the credential's notAfter, which a peer that has not proved it holds
      // the credential must not learn (seeds 002/004; SER-001). The confirm carries it (acceptFinish).
      return {
        signer: responderSigner(HELLO, known, this.#o.signingKey, missingSigningKey),
        run: {
          credentialNotAfter: descriptor.validity.notAfter,
          verifier: initiatorVerifier(HELLO, known),
          ...(known.handle && descriptor.kind === 'psk256' ? { psk: known.handle } : {}),
        },
      };
    } catch (error) {
      return realRefusal(error);
    }
  }

  /** The challenge of a run, real or decoy, made alike; the run takes a pending slot in the session table. */
  async #challenge(hello: AssociationHello, now: Date, opening: Opening, scope: RegistrarScope | undefined, peer: Claim['peer']): Promise<AssociationChallenge> {
    const { se } = this.#o;
    // Every run has an ephemeral ECDH, PSK runs too (psk_dhe_ke, RFC 8446 4.2.9); the hello's schema requires it.
    const ephemeral = await se.generate(hello.ephemeral.group, { ephemeral: true, usage: 'agree' });
    try {
      const ephemeralKey = await wireEphemeral(se, hello.ephemeral.group, ephemeral);
      if (ephemeralKey === undefined) throw new TypeError('se: the ephemeral key has no public key');
      const unsigned = {
        type: 'association.challenge' as const,
        version: ASSOCIATION_VERSION,
        sessionId: this.#sessions.newId(this.#o.random),
        registrarId: this.#o.id,
        registreeId: hello.registreeId,
        registreeNonce: hello.registreeNonce,
        registrarNonce: newNonce(this.#o.random),
        ephemeral: ephemeralKey,
      };
      const transcript = transcriptFromHello(PROTOCOL, hello);
      const th = transcript.absorb(unsigned.type, unsigned);
      const challenge = { ...unsigned, proof: await prove(se, opening.signer, proofFor('registrar', 'challenge', th)) };
      const base = { id: challenge.sessionId, stage: 'challenged' as const, hello, association: scope?.association, transcript, challenge, challengeTranscript: th, ephemeral };
      await this.#sessions.add(HELLO, now, { ...base, ...opening.run }, { claimant: hello.registreeId, nonce: hello.registreeNonce, peer });
      return challenge;
    } catch (error) {
      await destroyQuietly(se, ephemeral);
      // A decoy challenge MACed with the credential's PSK (decoy.ts `decoySigner`) has that key as its peer's too.
      const verifier = 'verifier' in opening.run ? opening.run.verifier : opening.run.decoy.verifier;
      throw keyGoneBeforeProof(HELLO, error, [verifier && pskOf(verifier)]);
    }
  }

  /**
   * The lifetime granted to a run whose Registree has proved itself: the requested one cut to the credential
   * (clause 11.3.2). A credential too near its end for any lifetime is refused `lifetime_exhausted`, which only a
   * peer holding the credential can be told: at the hello it would tell anyone that the credential ends within the
   * margin.
   */
  #grant(session: RealRun, now: Date): GrantedLifetime {
    return associationLifetime({
      requestedSeconds: session.hello.requestedLifetimeSeconds,
      credentialNotAfter: session.credentialNotAfter,
      now,
      marginSeconds: this.#o.lifetimeMarginSeconds ?? 60,
      step: FINISH,
    });
  }

  /**
   * Verifies the Registree's proof, grants the lifetime (`lifetime_exhausted` when none fits), verifies the
   * Registree's key confirmation (RFC 8446 4.4.4), then answers with the grant and this Registrar's own key
   * confirmation, which covers it. The outcome is the Registrar's to record: the finish has verified. The Registree
   * reports the association only once it has verified `confirm` and its grant. A run whose hello had a scope finishes
   * only in the same `association`. A decoy run (its hello's credential could not be used) is refused here, always:
   * as a failed proof, or with the real reason to a Registree whose proof verifies with the credential (decoy.ts).
   */
  async acceptFinish(input: unknown, association?: string): Promise<{ confirm: AssociationConfirm; outcome: AssociationOutcome }> {
    const finish = parseAssociationMessage(AssociationFinish, input, FINISH);
    const now = this.#o.now();
    return this.#sessions.step(finish.sessionId, FINISH, 'challenged', now, async (session) => {
      const { se } = this.#o;
      const { hello, challenge } = session;
      if (session.association !== association) throw protocolFailure(FINISH, 'unknown_session', 'the session belongs to another association');
      if (finish.registrarNonce !== challenge.registrarNonce) throw protocolFailure(FINISH, 'nonce_mismatch');
      const th = session.transcript.absorb(finish.type, withoutFields(finish, 'proof', 'keyConfirmation'));
      const proved = proofFor('registree', 'finish', th);
      // A decoy run ends here: its holder is told why its credential cannot be used, anyone else what a failed proof gets.
      if (session.decoy !== undefined) {
        return refuseDecoyFinish(se, session.decoy, hello.credential.kind, proved, finish.proof, FINISH, REGISTREE_AUTHENTICATION_FAILED);
      }
      try {
        await assertProof(se, session.verifier, proved, finish.proof, FINISH, REGISTREE_AUTHENTICATION_FAILED);
      } catch (error) {
        // The credential ended during the run (its PSK shredded): answered as the failed proof it is to anyone else,
        // the reason kept for the log; `unknown_credential` here would tell a stranger it became unusable in the run.
        const failed = protocolFailure(FINISH, proofFailure(session.verifier), REGISTREE_AUTHENTICATION_FAILED);
        throw keyGoneAtProof(FINISH, error, [pskOf(session.verifier), session.psk], failed);
      }
      // The Registree has proved it holds the credential: now it may be told what lifetime the credential leaves, or
      // that it leaves none, refused before any key is derived or anything remembered.
      const grant = this.#grant(session, now);
      let keys: AssociationKeys | undefined;
      try {
        keys = await deriveAssociationKeys(
          se,
          { ephemeral: session.ephemeral, peerPublicKey: fromBase64url(hello.ephemeral.publicKey), psk: session.psk },
          session.challengeTranscript,
          FINISH,
        );
        // A Finished key is an HMAC key: the 'psk256' verifier is the one that checks a MAC.
        await assertProof(se, { kind: 'psk256', handle: keys.registreeFinished }, keyConfirmationFor('registree', th), finish.keyConfirmation, FINISH, 'Registree key confirmation failed');
        // Only now, with the initiator's proof and key confirmation verified, is the run remembered (issue 11 item 4).
        await rememberAuthenticatedRun(FINISH, this.#replay, { claimant: hello.registreeId, nonce: hello.registreeNonce, transcriptHash: toHex(th) }, now, {
          random: this.#o.random,
          runsPerClaimant: this.#o.runsPerInitiator,
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
    });
  }
}
