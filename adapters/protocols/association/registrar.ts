import { fromBase64url, toBase64url } from '../../../domain/crypto/base64url.ts';
import { toHex } from '../../../domain/crypto/bytes.ts';
import type { Clock } from '../../../domain/ports/clock.ts';
import type { RandomSource } from '../../../domain/ports/random.ts';
import type { CredentialDescriptor } from '../../../domain/crypto/credential.ts';
import { assertFresh, assertUsableCredential, newNonce, protocolFailure } from '../../../domain/protocols/protocol.ts';
import { ASSOCIATION_VERSION, parseAssociationMessage } from '../../../domain/protocols/association-version.ts';
import { withoutFields, type Transcript } from '../../../domain/crypto/transcript.ts';
import { SessionTable, type Claim, type SessionBase } from '../shared/session-table.ts';
import { destroyQuietly } from '../shared/destroy-quietly.ts';
import type { KeyHandle, OwnedSecureEnvironment } from '../../../domain/ports/secure-environment.ts';
import { assertProof, prove, pskOf, type CredentialKey, type ProofVerifier } from '../shared/proof.ts';
import { initiatorVerifier, responderSigner } from '../shared/credential-keys.ts';
import { keyGoneBeforeProof } from '../shared/key-gone.ts';
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
}

interface Session extends SessionBase {
  stage: 'challenged';
  readonly hello: AssociationHello;
  readonly association: string | undefined;
  readonly transcript: Transcript;
  readonly challenge: AssociationChallenge;
  readonly challengeTranscript: Uint8Array;
  /** When the Registree's credential ends: the grant is cut to it at the finish, once the Registree has proved itself. */
  readonly credentialNotAfter: string;
  readonly verifier: ProofVerifier;
  readonly psk?: KeyHandle;
  readonly ephemeral: KeyHandle;
}

const HELLO = 'association.hello';
const FINISH = 'association.finish';

/**
 * The Registrar CSE side of the association handshake (seed 003 clause 11.3.2): mutual authentication of the
 * Registree, session keys (one per direction) with key confirmation, a lifetime strictly shorter than the
 * credential's, granted only once the Registree has proved it holds the credential, replay protection.
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
      cleanup: (s) => destroyQuietly(options.se, s.ephemeral),
      peerKeys: (s) => [pskOf(s.verifier), s.psk],
    });
  }

  get id(): string {
    return this.#o.id;
  }

  /** Runs in flight, pending or authenticated: never more than `maxSessions` (SessionTable); for status and tests. */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** `peer`: where the hello came from, if the transport knows (SessionTable: a flood from elsewhere cannot end this run). */
  async acceptHello(input: unknown, scope?: RegistrarScope, peer?: Claim['peer']): Promise<AssociationChallenge> {
    const { se } = this.#o;
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
    const known = assertUsableCredential(
      HELLO,
      await (scope?.resolveCredential ?? this.#o.resolveCredential)(hello.registreeId, hello.credential.fingerprint),
      hello.credential,
      now,
      hello.registreeId,
    );
    const { descriptor } = known;
    // No lifetime is granted here: it is cut to the credential's notAfter, which a peer that has not proved it holds
    // the credential must not learn (seeds 002/004; SER-001). The confirm carries it (acceptFinish).
    const verifier = initiatorVerifier(HELLO, known);
    const signer = responderSigner(HELLO, known, this.#o.signingKey, 'this Registrar has no signing key for asymmetric credentials');
    // Nothing is written for an unauthenticated hello but a pending session, which a flood cannot keep from a
    // legitimate Registree (SessionTable); the nonce is remembered once the finish proof verifies (acceptFinish).
    this.#sessions.assertNotPending(HELLO, hello.registreeNonce);
    await assertNewHello(HELLO, { ephemeral: hello.ephemeral, nonce: hello.registreeNonce }, this.#replay, now);

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
      const challenge = { ...unsigned, proof: await prove(se, signer, proofFor('registrar', 'challenge', th)) };
      await this.#sessions.add(HELLO, now, {
        id: challenge.sessionId,
        stage: 'challenged',
        hello,
        association: scope?.association,
        transcript,
        challenge,
        challengeTranscript: th,
        credentialNotAfter: descriptor.validity.notAfter,
        verifier,
        ...(known.handle && descriptor.kind === 'psk256' ? { psk: known.handle } : {}),
        ephemeral,
      }, { claimant: hello.registreeId, nonce: hello.registreeNonce, peer });
      return challenge;
    } catch (error) {
      await destroyQuietly(se, ephemeral);
      throw keyGoneBeforeProof(HELLO, error, [pskOf(verifier)]);
    }
  }

  /**
   * The lifetime granted to a run whose Registree has proved itself: the requested one cut to the credential
   * (clause 11.3.2). A credential too near its end for any lifetime is refused `lifetime_exhausted`, which only a
   * peer holding the credential can be told: at the hello it would tell anyone that the credential ends within the
   * margin.
   */
  #grant(session: Session, now: Date): GrantedLifetime {
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
   * only in the same `association`.
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
      await assertProof(se, session.verifier, proofFor('registree', 'finish', th), finish.proof, FINISH, 'Registree authentication failed');
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
