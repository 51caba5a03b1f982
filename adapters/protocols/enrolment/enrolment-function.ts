import { CredenceError } from '../../../domain/errors.ts';
import type { CredentialDescriptor } from '../../../domain/crypto/credential.ts';
import {
  assertFresh,
  assertUsableCredential,
  concealedRefusal,
  newNonce,
  parseMessage,
  protocolFailure,
  unusableCredential,
} from '../../../domain/protocols/protocol.ts';
import { Transcript, withoutFields } from '../../../domain/crypto/transcript.ts';
import { destroyQuietly } from '../shared/destroy-quietly.ts';
import { checkProof, proofFailure, prove, pskOf } from '../shared/proof.ts';
import { answerOrRefuse, failedProof, failedProofOrKeyFault, isFailedProof, type KeptRefusal, type RunWatch } from '../shared/failed-proofs.ts';
import { RunTranscript } from '../shared/run-transcript.ts';
import { initiatorVerifier, responderSigner } from '../shared/credential-keys.ts';
import { keyGoneBeforeProof } from '../shared/key-gone.ts';
import { decoyChallenge, decoySigner, knownVerifier, realRefusal, refuseDecoyFinish, type Decoy } from '../shared/decoy.ts';
import { acceptedClockSkew } from '../../../domain/protocols/clock-skew.ts';
import { wireEphemeral } from '../shared/wire-ephemeral.ts';
import { assertNewHello } from '../shared/hello-checks.ts';
import { assertRunLeft, checkRunsPerInitiator, rememberAuthenticatedRun, replayNamespace } from '../shared/replay.ts';
import { toHex } from '../../../domain/crypto/bytes.ts';
import type { ReplayCache } from '../../../domain/ports/replay-cache.ts';
import { transcriptFromHello } from '../../../domain/protocols/run-transcript.ts';
import { grantedValidity, validityWithinSubscription } from './certificate-issuance.ts';
import { PROTOCOL, proofFor } from '../../../domain/protocols/provisioning-proofs.ts';
import {
  ProvisioningAuth,
  ProvisioningHello,
  ProvisioningReceipt,
  type ProvisioningChallenge,
  type ProvisioningDelivery,
  type ProvisioningOutcome,
  type ServiceParameters,
} from '../../../domain/protocols/enrolment-messages.ts';
import { SessionTable, type Claim } from '../shared/session-table.ts';
import { keptHello, type Opening, type RunContext, type Session } from './enrolment-runs.ts';
import { checkRecordedCertificate, verifyManufacturerChain } from './manufacturer-certificate.ts';
import { MessagesInTurn } from './messages-in-turn.ts';
import { acceptNodeKey, assertNoNodeKey, deliverPsk, proofOfPossessionRefusal } from './new-credential.ts';
import { admitAuthenticatedRun } from './admit-authenticated-run.ts';
import { assertBootstrapStillUsable } from './bootstrap-still-usable.ts';
import { admitReceipt, completeRun, RECEIPT } from './enrolment-receipt.ts';
import type { BootstrapCredential, EnrolmentFunctionOptions } from './enrolment-options.ts';

export type { RunContext } from './enrolment-runs.ts';
export type { BootstrapCredential, EnrolmentFunctionOptions } from './enrolment-options.ts';

const HELLO = 'provisioning.hello';
const AUTH = 'provisioning.auth';
const NODE_AUTHENTICATION_FAILED = 'node authentication failed';
const MISSING_SIGNING_KEY = 'this Enrolment Function has no signing key for asymmetric bootstraps';

/**
 * The M2M Enrolment Function side of remote provisioning (seed 003 clause 11.2.1): one method per incoming
 * message, each returning the next outgoing message. Any refusal is a typed `protocol` error naming the step; one
 * past the message's proof ends the run: the session and every key made for it are destroyed. One before it (a stage
 * the run is not at, a nonce or fingerprint not its own) leaves the run going (SessionTable.step), and so does a failed
 * proof, but the run's third (failed-proofs.ts, review 238).
 */
export class EnrolmentFunction {
  readonly #o: EnrolmentFunctionOptions;
  readonly #sessions: SessionTable<Session>;
  readonly #skew: number;
  /** This function's own part of the replay cache, written only after a node's proof (issue 11 item 4). */
  readonly #replay: ReplayCache;
  /** An auth waits for another of its run being judged, rather than find the run out of the table (review 297). */
  readonly #auths = new MessagesInTurn();

  constructor(options: EnrolmentFunctionOptions) {
    this.#o = options;
    this.#skew = acceptedClockSkew(options);
    this.#replay = replayNamespace(options.replayCache, PROTOCOL, options.id);
    checkRunsPerInitiator(options.runsPerInitiator);
    if (!(options.credentialLifetimeSeconds > 0)) throw new RangeError('credentialLifetimeSeconds must be positive');
    this.#sessions = new SessionTable<Session>({
      timeoutSeconds: options.sessionTimeoutSeconds ?? 120,
      maxSessions: options.maxSessions,
      cleanup: (s) => {
        options.runEnded?.({ sessionId: s.id, hello: s.hello, receiptAccepted: s.done === true });
        return destroyQuietly(options.se, s.ephemeral, s.credentialKeyHandle, s.delivery?.kek);
      },
      peerKeys: (s) => (s.decoy === undefined ? [pskOf(s.nodeVerifier)] : []),
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
   * Ends the run of `sessionId` now, its keys destroyed and `runEnded` told (receipt not accepted), as a refused run
   * ends; whether it was waiting for a message (a run being stepped, or ended, is not touched). For the admission of
   * a newer run of the same node that supersedes it (Infrastructure: a device retrying after a lost delivery).
   */
  endRun(sessionId: string): Promise<boolean> {
    return this.#sessions.end(sessionId);
  }

  /**
   * Answers a hello with a challenge. `peer`: where the hello came from, if the transport knows (SessionTable: a flood
   * from elsewhere cannot end this run). A hello whose bootstrap credential cannot be used (unknown, revoked, expired,
   * not yet valid, its key shredded) is answered with a decoy challenge (shared/decoy.ts) that only the holder of the
   * credential's secret could tell from a real one: a refusal, whatever its reason, would tell anyone holding a
   * Node-ID and a public fingerprint whether the credential is usable (seeds 002/004 unobservability; SER-001).
   * `concealed` is told the real refusal, an `unusableCredential` whose cause says why (`concealedRefusal`), for the
   * service's log.
   */
  async acceptHello(
    input: unknown,
    context: RunContext = {},
    peer?: Claim['peer'],
    concealed?: (refusal: CredenceError) => void,
  ): Promise<ProvisioningChallenge> {
    const hello = parseMessage(ProvisioningHello, input, HELLO);
    const now = this.#o.now();
    if (hello.enrolmentFunctionId !== this.#o.id) throw protocolFailure(HELLO, 'wrong_identity', 'addressed to another Enrolment Function');
    assertFresh(HELLO, hello.sentAt, now, this.#skew);
    // The checks that follow, in the same order, for a run and a decoy run alike: the manufacturer chain, the kinds and
    // the signing key by the hello alone, before the bootstrap is looked up; only then what rests on the record, the
    // chain against the recorded certificate of the claimed bootstrap (revoked or expired or not) and whether the
    // bootstrap can be used, both concealed behind a decoy run (found in review: a missing signing key refused a
    // usable bootstrap before these checks and an unusable one after them; a chain refused for a node never recorded
    // told that it was not).
    const chain = await verifyManufacturerChain(HELLO, hello, this.#o.trustAnchors, now);
    if (this.#o.allowedCredentialKinds && !this.#o.allowedCredentialKinds.includes(hello.credentialKind)) {
      throw protocolFailure(HELLO, 'unsupported', `credential kind ${hello.credentialKind} is not offered`);
    }
    if (hello.bootstrap.kind !== 'psk256' && !this.#o.signingKey) throw protocolFailure(HELLO, 'unsupported', MISSING_SIGNING_KEY);
    const resolved = await this.#o.resolveBootstrap(hello.nodeId);
    const recorded = resolved?.descriptor;
    const claimed = recorded?.fingerprint === hello.bootstrap.fingerprint && recorded.kind === hello.bootstrap.kind ? recorded : undefined;
    const manufacturer = checkRecordedCertificate(HELLO, chain, claimed);
    const manufacturerCertificate = manufacturer.certificate;
    const opening = manufacturer.concealed ?? this.#open(resolved, hello, now);
    // Nothing is written for an unauthenticated hello but a pending session, which a flood cannot keep from a
    // legitimate node (SessionTable); the nonce is remembered once the node's auth proof verifies (acceptAuth).
    this.#sessions.assertNotPending(HELLO, hello.nodeNonce);
    await assertNewHello(HELLO, { ephemeral: hello.ephemeral, nonce: hello.nodeNonce }, this.#replay, now);

    let refusal: CredenceError;
    if (opening instanceof CredenceError) refusal = opening;
    else {
      try {
        return await this.#challenge(hello, now, context, opening, manufacturerCertificate, peer);
      } catch (error) {
        // The bootstrap PSK went from the Secure Environment during the hello (the credential ended): a decoy run.
        refusal = realRefusal(error);
      }
    }
    // Its real reason goes to the service's log (`concealed`) and, at the auth, to a node that proves it holds it.
    const verifier = knownVerifier(resolved, hello.bootstrap);
    let challenge: ProvisioningChallenge;
    try {
      challenge = await this.#decoy(hello, now, context, { refusal, verifier }, manufacturerCertificate, peer);
    } catch (error) {
      // The bootstrap PSK, which the decoy challenge was to be MACed with, went meanwhile: under the stand-in PSK then.
      if (verifier?.kind !== 'psk256' || concealedRefusal(error) === undefined) throw error;
      challenge = await this.#decoy(hello, now, context, { refusal }, manufacturerCertificate, peer);
    }
    concealed?.(unusableCredential(HELLO, refusal));
    return challenge;
  }

  /** How a real run's challenge is proved and its auth checked; or, for a bootstrap that cannot be used, why not. */
  #open(resolved: BootstrapCredential | undefined, hello: ProvisioningHello, now: Date): Opening | CredenceError {
    try {
      const bootstrap = assertUsableCredential(HELLO, resolved, hello.bootstrap, now, `bootstrap of ${hello.nodeId}`);
      const nodeVerifier = initiatorVerifier(HELLO, bootstrap);
      return { signer: responderSigner(HELLO, bootstrap, this.#o.signingKey, MISSING_SIGNING_KEY), run: { nodeVerifier } };
    } catch (error) {
      return realRefusal(error);
    }
  }

  /** A decoy run's challenge (shared/decoy.ts), MACed in PSK mode with the bootstrap's key when `decoy.verifier` holds it. */
  async #decoy(
    hello: ProvisioningHello,
    now: Date,
    context: RunContext,
    decoy: Pick<Decoy, 'refusal' | 'verifier'>,
    manufacturerCertificate: ProvisioningOutcome['manufacturerCertificate'],
    peer: Claim['peer'],
  ): Promise<ProvisioningChallenge> {
    const { se } = this.#o;
    return decoyChallenge(
      se,
      () => decoySigner(se, HELLO, hello.bootstrap.kind, this.#o.signingKey, MISSING_SIGNING_KEY, decoy.verifier),
      (signer, standIn) => this.#challenge(hello, now, context, { signer, run: { decoy: { ...decoy, standIn } } }, manufacturerCertificate, peer),
    );
  }

  /** The challenge of a run, real or decoy, made alike; the run takes a pending slot in the session table. */
  async #challenge(
    hello: ProvisioningHello,
    now: Date,
    context: RunContext,
    opening: Opening,
    manufacturerCertificate: ProvisioningOutcome['manufacturerCertificate'],
    peer: Claim['peer'],
  ): Promise<ProvisioningChallenge> {
    const { se } = this.#o;
    const group = hello.ephemeral?.group;
    const sessionId = this.#sessions.newId(this.#o.random);
    const ephemeral = group ? await se.generate(group, { ephemeral: true, usage: 'agree' }) : undefined;
    try {
      const ephemeralKey = group && ephemeral ? await wireEphemeral(se, group, ephemeral) : undefined;
      const enrolmentNonce = newNonce(this.#o.random);
      const unsigned = {
        type: 'provisioning.challenge' as const,
        version: 2 as const,
        sessionId,
        nodeId: hello.nodeId,
        enrolmentFunctionId: this.#o.id,
        nodeNonce: hello.nodeNonce,
        enrolmentNonce,
        credentialKind: hello.credentialKind,
        validity: grantedValidity(now, this.#o.credentialLifetimeSeconds, this.#o.certificates !== undefined),
        ...(ephemeralKey ? { ephemeral: ephemeralKey } : {}),
        expiresAt: this.#sessions.expiry(now),
      };
      // The run goes on from the hash after the hello, re-read for nothing: a chain in it would stay as long as the run.
      const afterHello = transcriptFromHello(PROTOCOL, hello).hash;
      const transcript = new RunTranscript(() => Transcript.resumedAt(afterHello));
      const th = transcript.absorb(unsigned.type, unsigned);
      const challenge = { ...unsigned, proof: await prove(se, opening.signer, proofFor('enrolment-function', 'challenge', th)) };
      const base = {
        id: sessionId,
        stage: 'challenged' as const,
        hello: keptHello(hello),
        context,
        transcript,
        enrolmentNonce,
        signer: opening.signer,
        challenge,
        ...(ephemeral ? { ephemeral } : {}),
        ...(manufacturerCertificate ? { manufacturerCertificate } : {}),
      };
      await this.#sessions.add(HELLO, now, { ...base, ...opening.run }, { claimant: hello.nodeId, nonce: hello.nodeNonce, peer });
      return challenge;
    } catch (error) {
      await destroyQuietly(se, ephemeral);
      // A decoy challenge MACed with the bootstrap PSK (shared/decoy.ts `decoySigner`) has that key as its peer's too.
      const verifier = 'nodeVerifier' in opening.run ? opening.run.nodeVerifier : opening.run.decoy.verifier;
      throw keyGoneBeforeProof(HELLO, error, [verifier && pskOf(verifier)]);
    }
  }

  /**
   * Answers an auth with the delivery. One arriving while another auth of its run is judged waits for it
   * (MessagesInTurn), then finds the run as that one left it: going after a failed proof, past its auth after the
   * genuine one (`unknown_session`, the run going on), or ended.
   */
  async acceptAuth(input: unknown): Promise<ProvisioningDelivery> {
    const auth = parseMessage(ProvisioningAuth, input, AUTH);
    return this.#auths.inTurn(auth.sessionId, () => this.#acceptAuth(auth));
  }

  async #acceptAuth(auth: ProvisioningAuth): Promise<ProvisioningDelivery> {
    const now = this.#o.now();
    // Refused before the proof, anyone's: the run goes on (SessionTable.step's `admit`; review 224).
    const admit = (session: Session) => {
      if (auth.enrolmentNonce !== session.enrolmentNonce) throw protocolFailure(AUTH, 'nonce_mismatch');
    };
    return answerOrRefuse(await this.#sessions.step(auth.sessionId, AUTH, 'challenged', now, async (session): Promise<ProvisioningDelivery | KeptRefusal> => {
      const { se } = this.#o;
      const before = session.transcript.length;
      const th = session.transcript.absorb(auth.type, withoutFields(auth, 'proof', 'proofOfPossession'));
      const proved = proofFor('node', 'auth', th);
      // A failed proof, anyone's (a junk auth from whoever saw the challenge), leaves the run going up to a bound
      // (failed-proofs.ts, review 238).
      const rewind = () => session.transcript.rewind(before);
      // Outside what the proof covers: a copy with only its proof of possession altered (or one added to a PSK run's auth)
      // is a failed proof too, refused before the run is remembered (its nonce, a runs-per-claimant slot), so the genuine
      // auth still finds the run. Checked first, with the key the auth carries alone, on a decoy run as on a real one:
      // after the bootstrap proof, such a copy was told `bad_proof_of_possession` on a usable bootstrap and `bad_mac` on
      // one shredded during the run (review 405 F1; seeds 002/004, SER-001).
      const possession = proofOfPossessionRefusal(session.hello.credentialKind, auth, th);
      if (possession !== undefined) return failedProof(session, possession, rewind);
      // A decoy run ends here for its holder, told why its bootstrap cannot be used; anyone else gets what a failed
      // proof gets, its run kept as a real run's is.
      if (session.decoy !== undefined) {
        const { kind } = session.hello.bootstrap;
        try {
          return await refuseDecoyFinish(se, session.decoy, kind, proved, auth.proof, AUTH, NODE_AUTHENTICATION_FAILED);
        } catch (error) {
          if (isFailedProof(error, AUTH, kind, NODE_AUTHENTICATION_FAILED)) return failedProof(session, error, rewind);
          throw error;
        }
      }
      const failed = protocolFailure(AUTH, proofFailure(session.nodeVerifier), NODE_AUTHENTICATION_FAILED);
      let verified: boolean;
      try {
        verified = await checkProof(se, session.nodeVerifier, proved, auth.proof);
      } catch (error) {
        // The bootstrap ended during the run (its PSK shredded): a failed proof to anyone else, the run kept up to the
        // third as for a wrong proof, the reason kept for the log; `unknown_credential` here, or the run ended at once (a
        // second junk auth `unknown_session`), would tell a stranger it became unusable in the run (review 393).
        return failedProofOrKeyFault(session, AUTH, error, [pskOf(session.nodeVerifier)], failed, rewind);
      }
      if (!verified) return failedProof(session, failed, rewind);
      // Revoked since the hello, say: the proof verified, so only the holder is told (bootstrap-still-usable.ts).
      await assertBootstrapStillUsable(AUTH, this.#o.resolveBootstrap, session.hello, now);
      // Every refusal that makes no key comes before the run is remembered (its nonce, its transcript, one of the
      // node's runs of the replay window): such a run ends having written nothing, as the Registrar's
      // `lifetime_exhausted` does (review 319: refused after, 32 `in_flight` retries in an hour left even a free id
      // refused `too_many_runs`). A `too_many_runs` at the end (a concurrent run of the node took its last run) ends the run too, and its cleanup (`runEnded`) releases
      // what the admission claimed (an earlier run of the node's own for the id, which the admission ended, stays so).
      const { hello, challenge } = session;
      const remember = () =>
        rememberAuthenticatedRun(AUTH, this.#replay, { claimant: hello.nodeId, nonce: hello.nodeNonce, transcriptHash: toHex(th) }, now, {
          random: this.#o.random,
          runsPerClaimant: this.#o.runsPerInitiator,
        });
      // Past its runs, the node is told `too_many_runs` whatever id it names, before the admission looks the id up:
      // else a refusal that takes no run (below) would tell it, beyond its runs, that an id is free (review 333).
      await assertRunLeft(AUTH, this.#replay, hello.nodeId, now, this.#o.runsPerInitiator);
      await admitAuthenticatedRun(this.#o.admitAuthenticatedRun, { sessionId: session.id, hello, context: session.context }, remember);
      // Only now that the node has proved its bootstrap key: they say which CSE and subscription it serves.
      const serviceParameters: ServiceParameters = (await this.#o.serviceParameters?.(hello.nodeId)) ?? {};
      session.serviceParameters = serviceParameters;
      // The challenge offered the full lifetime, alike for every hello; cut now, past the proof, to the subscription's end.
      const subscriptionEndsAt = await this.#o.subscriptionEndsAt?.(hello.nodeId);
      const validity = validityWithinSubscription(challenge.validity, subscriptionEndsAt, now, this.#o.certificates !== undefined);
      if (validity === undefined) {
        throw protocolFailure(AUTH, 'lifetime_exhausted', `the M2M service subscription of node ${hello.nodeId} ends at ${subscriptionEndsAt}: no credential lifetime left (seed 003 11.2.1)`);
      }
      const common = { validity, owner: { kind: 'node' as const, id: hello.nodeId } };
      let nodeKey: CredentialDescriptor | undefined;
      if (hello.credentialKind === 'psk256') assertNoNodeKey(auth);
      else {
        const predecessorId = session.context['predecessorId'];
        const predecessorFingerprint = predecessorId === undefined ? undefined : await this.#o.predecessorFingerprint?.(predecessorId);
        nodeKey = acceptNodeKey(session, auth, th, common, { certificates: this.#o.certificates, random: this.#o.random, serviceParameters }, predecessorFingerprint);
        // SER-010: a key certified for any credential before (a clone's) is refused here, before its certificate is
        // signed at the receipt, as the credential machine would refuse its record (keyNeverCertified).
        if ((await this.#o.keyCertified?.(nodeKey.fingerprint)) === true) {
          throw protocolFailure(AUTH, 'credential_mismatch', 'the new credential carries a key already certified; a new key is needed');
        }
      }
      await remember();
      session.authenticated = true;
      let credential: CredentialDescriptor;
      let wrappedKey: string | undefined;
      if (nodeKey !== undefined) credential = nodeKey;
      else ({ credential, wrappedKey } = await deliverPsk(se, session, auth, th, common));
      session.credential = credential;
      const unsigned = {
        type: 'provisioning.delivery' as const,
        version: 2 as const,
        sessionId: session.id,
        credential,
        serviceParameters,
        ...(wrappedKey ? { wrappedKey } : {}),
      };
      const thDelivery = session.transcript.absorb(unsigned.type, unsigned);
      session.stage = 'delivered';
      return { ...unsigned, proof: await prove(se, session.signer, proofFor('enrolment-function', 'delivery', thDelivery)) };
    }, admit));
  }

  async acceptReceipt(input: unknown): Promise<ProvisioningOutcome> {
    return (await this.acceptReceiptInContext(input)).outcome;
  }

  /**
   * `acceptReceipt`, with the context its run's hello was accepted in. `watch` is told when the receipt is admitted to
   * its run, and whether its refusal leaves the run going (failed-proofs.ts), for whoever answers its repeats
   * (EnrolmentEndpoint).
   */
  async acceptReceiptInContext(input: unknown, watch?: RunWatch): Promise<{ outcome: ProvisioningOutcome; context: RunContext }> {
    const receipt = parseMessage(ProvisioningReceipt, input, RECEIPT);
    const now = this.#o.now();
    const answer = await this.#sessions.step(
      receipt.sessionId,
      RECEIPT,
      'delivered',
      now,
      (session) => completeRun(this.#o, session, receipt, now),
      (session) => {
        admitReceipt(this.#skew, session, receipt, now);
        watch?.admitted(Date.parse(session.challenge.expiresAt));
      },
    );
    return answerOrRefuse(answer, watch);
  }
}
