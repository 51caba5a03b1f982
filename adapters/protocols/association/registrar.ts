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
import { SessionTable, type Claim } from '../shared/session-table.ts';
import { destroyQuietly } from '../shared/destroy-quietly.ts';
import { prove, pskOf } from '../shared/proof.ts';
import { initiatorVerifier, responderSigner } from '../shared/credential-keys.ts';
import { keyGoneBeforeProof } from '../shared/key-gone.ts';
import { acceptedClockSkew } from '../../../domain/protocols/clock-skew.ts';
import { wireEphemeral } from '../shared/wire-ephemeral.ts';
import { assertNewHello } from '../shared/hello-checks.ts';
import { checkRunsPerInitiator, replayNamespace } from '../shared/replay.ts';
import { transcriptFromHello } from '../../../domain/protocols/run-transcript.ts';
import { RunTranscript } from '../shared/run-transcript.ts';
import { answerOrRefuse, type RunWatch } from '../shared/failed-proofs.ts';
import {
  AssociationFinish,
  AssociationHello,
  type AssociationChallenge,
  type AssociationConfirm,
  type AssociationOutcome,
} from '../../../domain/protocols/association-messages.ts';
import type { ReplayCache } from '../../../domain/ports/replay-cache.ts';
import { decoyChallenge, decoySigner, knownVerifier, realRefusal, type Decoy } from '../shared/decoy.ts';
import { PROTOCOL, proofFor } from './session-key.ts';
import { admitFinish, FINISH, finishRun } from './registrar-finish.ts';
import type { RegistrarOptions, RegistrarScope, RegistreeCredential } from './registrar-options.ts';
import { credentialEnd, type Opening, type Session } from './registrar-runs.ts';
import type { CredentialLookup } from './registrar-still-usable.ts';

const HELLO = 'association.hello';

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
      cleanup: (s) => destroyQuietly(options.se, s.ephemeral),
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
   * Ends the runs whose session timeout has passed, and destroys their keys, without waiting for another message
   * (SessionTable.sweep); how many. The service runs it at each tick (Infrastructure.sweepExpiredRuns).
   */
  sweepExpired(): Promise<number> {
    return this.#sessions.sweep(this.#o.now());
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
    const lookup: CredentialLookup = {
      resolveCredential: scope?.resolveCredential ?? this.#o.resolveCredential,
      knownCredential: scope?.knownCredential,
      closedBecause: scope?.closedBecause,
    };
    const resolved = await lookup.resolveCredential(hello.registreeId, hello.credential.fingerprint);
    let opening = this.#open(resolved, hello, now, missingSigningKey, lookup);
    // Asked whatever `resolved` found, so that a hello reads alike either way (review 64 F2).
    const configured = scope?.knownCredential === undefined ? undefined : await scope.knownCredential(hello.registreeId, hello.credential.fingerprint);
    let known = resolved;
    if (opening instanceof CredenceError && resolved === undefined && scope?.knownCredential !== undefined) {
      // The association cannot be run (not configured for this Registree, or ended): if its credential cannot be used
      // either, that is the real reason; if it could, the association's `unknown_credential` stays here, and the
      // holder is told at the finish, past its proof, why the association cannot be run (`refusalToHolder`).
      known = configured;
      const own = this.#open(known, hello, now, missingSigningKey, lookup);
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
      challenge = await this.#decoy(hello, now, { refusal, verifier }, lookup, scope, peer, missingSigningKey);
    } catch (error) {
      // The credential's PSK, which the decoy challenge was to be MACed with, went meanwhile: under the stand-in PSK
      // then.
      if (verifier?.kind !== 'psk256' || concealedRefusal(error) === undefined) throw error;
      challenge = await this.#decoy(hello, now, { refusal }, lookup, scope, peer, missingSigningKey);
    }
    concealed?.(unusableCredential(HELLO, refusal));
    return challenge;
  }

  /** A decoy run's challenge (decoy.ts), MACed in PSK mode with the credential's key when `decoy.verifier` holds it. */
  async #decoy(
    hello: AssociationHello,
    now: Date,
    decoy: Pick<Decoy, 'refusal' | 'verifier'>,
    lookup: CredentialLookup,
    scope: RegistrarScope | undefined,
    peer: Claim['peer'],
    missingSigningKey: string,
  ): Promise<AssociationChallenge> {
    const { se } = this.#o;
    return decoyChallenge(
      se,
      () => decoySigner(se, HELLO, hello.credential.kind, this.#o.signingKey, missingSigningKey, decoy.verifier),
      (signer, standIn) => this.#challenge(hello, now, { signer, run: { decoy: { ...decoy, standIn }, lookup } }, scope, peer),
    );
  }

  /** How a real run's challenge is proved and its finish checked; or, for a credential that cannot be used, why not. */
  #open(
    resolved: RegistreeCredential | undefined,
    hello: AssociationHello,
    now: Date,
    missingSigningKey: string,
    lookup: CredentialLookup,
  ): Opening | CredenceError {
    try {
      const known = assertUsableCredential(HELLO, resolved, hello.credential, now, hello.registreeId);
      const { descriptor } = known;
      // No lifetime is granted here: it is cut to the credential's notAfter, or its rotation's overlap end when sooner
      // (credentialEnd), which a peer that has not proved it holds the credential must not learn (seeds 002/004;
      // SER-001). The confirm carries it (acceptFinish).
      return {
        signer: responderSigner(HELLO, known, this.#o.signingKey, missingSigningKey),
        run: {
          credentialEndsAt: credentialEnd(known),
          verifier: initiatorVerifier(HELLO, known),
          lookup,
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
      const transcript = new RunTranscript(() => transcriptFromHello(PROTOCOL, hello));
      const th = transcript.absorb(unsigned.type, unsigned);
      const challenge = { ...unsigned, proof: await prove(se, opening.signer, proofFor('registrar', 'challenge', th)) };
      const expiresAt = this.#sessions.expiry(now);
      const base = { id: challenge.sessionId, stage: 'challenged' as const, hello, association: scope?.association, transcript, challenge, expiresAt, challengeTranscript: th, ephemeral };
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
   * Verifies the Registree's proof, grants the lifetime (`lifetime_exhausted` when none fits), verifies the
   * Registree's key confirmation (RFC 8446 4.4.4), then answers with the grant and this Registrar's own key
   * confirmation, which covers it. The outcome is the Registrar's to record: the finish has verified. The Registree
   * reports the association only once it has verified `confirm` and its grant. A run whose hello had a scope finishes
   * only in the same `association`. A decoy run (its hello's credential could not be used) is refused here, always:
   * as a failed proof, or with the real reason to a Registree whose proof verifies with the credential (decoy.ts).
   * A finish whose proof does not check leaves the run going, up to a bound (failed-proofs.ts, review 238). `watch` is
   * told when the finish is admitted to its run, and whether its refusal leaves the run going, for whoever answers its
   * repeats (RegistrarEndpoint).
   */
  async acceptFinish(input: unknown, association?: string, watch?: RunWatch): Promise<{ confirm: AssociationConfirm; outcome: AssociationOutcome }> {
    const finish = parseAssociationMessage(AssociationFinish, input, FINISH);
    const now = this.#o.now();
    const answer = await this.#sessions.step(
      finish.sessionId,
      FINISH,
      'challenged',
      now,
      (session) => finishRun(this.#o, this.#replay, session, finish, now),
      (session) => {
        admitFinish(session, finish, association);
        watch?.admitted(Date.parse(session.expiresAt));
      },
    );
    return answerOrRefuse(answer, watch);
  }
}
