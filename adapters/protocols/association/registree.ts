import type { AgreementGroup } from '../../../domain/crypto/agreement.ts';
import { fromBase64url, toBase64url } from '../../../domain/crypto/base64url.ts';
import { associationOutcome } from '../../../domain/protocols/association-outcome.ts';
import type { Clock } from '../../../domain/ports/clock.ts';
import type { RandomSource } from '../../../domain/ports/random.ts';
import { validityAt, type CredentialDescriptor } from '../../../domain/crypto/credential.ts';
import { newNonce, protocolFailure } from '../../../domain/protocols/protocol.ts';
import { ASSOCIATION_VERSION, parseAssociationMessage } from '../../../domain/protocols/association-version.ts';
import type { GrantedLifetime } from '../../../domain/protocols/association-lifetime.ts';
import { withoutFields, type Transcript } from '../../../domain/crypto/transcript.ts';
import { destroyQuietly } from '../shared/destroy-quietly.ts';
import type { KeyHandle, OwnedSecureEnvironment } from '../../../domain/ports/secure-environment.ts';
import { assertProof, prove, type CredentialKey, type ProofVerifier } from '../shared/proof.ts';
import { DEFAULT_MAX_CLOCK_SKEW_SECONDS } from '../../../domain/protocols/clock-skew.ts';
import { responderVerifier } from '../shared/credential-keys.ts';
import { acceptEphemeralAnswer, ephemeralGroup } from '../../../domain/protocols/ephemeral.ts';
import { wireEphemeral } from '../shared/wire-ephemeral.ts';
import { transcriptFromHello } from '../../../domain/protocols/run-transcript.ts';
import {
  AssociationChallenge,
  AssociationConfiguration,
  AssociationConfirm,
  keyExchangeFor,
  type AssociationFinish,
  type AssociationHello,
  type AssociationOutcome,
} from '../../../domain/protocols/association-messages.ts';
import { deriveHandshake, deriveTraffic, keyConfirmationFor, PROTOCOL, proofFor, type FinishedKeys } from './session-key.ts';

export interface RegistreeOptions {
  /** The Registree's CSE-ID or AE-ID. */
  readonly id: string;
  /** The Secure Environment as the node hosting this Registree sees it (bound by whoever wires it). */
  readonly se: OwnedSecureEnvironment;
  readonly now: Clock['now'];
  readonly random: RandomSource;
  /** The credential from enrolment (clause 11.3.2: "the credentials resulting from ... enrolment"). */
  readonly credential: { readonly handle: KeyHandle; readonly descriptor: CredentialDescriptor };
  /** Clause 11.3.1 association configuration; parsed here. */
  readonly configuration: AssociationConfiguration;
  readonly maxClockSkewSeconds?: number;
}

type Stage = 'hello_sent' | 'finish_sent' | 'established' | 'failed';
const CHALLENGE = 'association.challenge';
const CONFIRM = 'association.confirm';

/** The Registree (CSE or AE) side of the association handshake. */
export class Registree {
  readonly #o: RegistreeOptions;
  readonly #configuration: AssociationConfiguration;

  constructor(options: RegistreeOptions) {
    const parsed = AssociationConfiguration.safeParse(options.configuration);
    if (!parsed.success) throw new TypeError(`configuration: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    this.#o = options;
    this.#configuration = parsed.data;
  }

  #skewMs(): number {
    return (this.#o.maxClockSkewSeconds ?? DEFAULT_MAX_CLOCK_SKEW_SECONDS) * 1000;
  }

  /**
   * Starts a handshake asking for `lifetimeSeconds`; the Registrar may grant less, never more. `associationId` names
   * the configured association it is for (required by a Registrar reached over a connection).
   */
  async start(request: { readonly lifetimeSeconds: number; readonly agreementGroup?: AgreementGroup; readonly associationId?: string }): Promise<RegistreeHandshake> {
    const { se, credential } = this.#o;
    const at = this.#o.now();
    const { validity } = credential.descriptor;
    if (validityAt(validity, at) === 'expired') throw protocolFailure('association.start', 'credential_expired');
    // Dated on the infrastructure's clock when it was provisioned, which may be ahead of this node's by the skew the
    // Registrar accepts (found with review 207: a node behind refused a credential just provisioned); the Registrar
    // judges it on its own clock.
    if (at.getTime() + this.#skewMs() < Date.parse(validity.notBefore)) {
      throw protocolFailure('association.start', 'credential_not_yet_valid', `starts ${validity.notBefore}, the node's clock says ${at.toISOString()}`);
    }
    const kind = credential.descriptor.kind;
    const group = ephemeralGroup(kind, request.agreementGroup);
    // An ephemeral in every mode: PSK runs are psk_dhe_ke (RFC 8446 4.2.9), never PSK-only.
    const ephemeral = await se.generate(group, { ephemeral: true, usage: 'agree' });
    try {
      const ephemeralKey = await wireEphemeral(se, group, ephemeral);
      if (ephemeralKey === undefined) throw new TypeError('se: the ephemeral key has no public key');
      const hello: AssociationHello = {
        type: 'association.hello',
        version: ASSOCIATION_VERSION,
        registreeId: this.#o.id,
        registrarId: this.#configuration.registrarId,
        ...(request.associationId !== undefined ? { associationId: request.associationId } : {}),
        credential: { kind, fingerprint: credential.descriptor.fingerprint },
        keyExchange: keyExchangeFor(kind),
        registreeNonce: newNonce(this.#o.random),
        ephemeral: ephemeralKey,
        requestedLifetimeSeconds: request.lifetimeSeconds,
        sentAt: this.#o.now().toISOString(),
      };
      return new RegistreeHandshake(this.#o, this.#configuration, hello, ephemeral);
    } catch (error) {
      await destroyQuietly(se, ephemeral);
      throw error;
    }
  }
}

/** What the Registree holds between its finish and the Registrar's confirm. */
interface AwaitingConfirm {
  readonly challenge: AssociationChallenge;
  readonly finished: FinishedKeys;
  /** hs, in memory only until the confirm verifies; the session keys are derived from it then. */
  readonly handshakeSecret: KeyHandle;
  /** The transcript hash through the challenge: what the key schedule binds (session-key.ts). */
  readonly keyScheduleHash: Uint8Array;
}

/**
 * One handshake run on the Registree: send `hello`, feed it the challenge, send the returned `finish`, feed it the
 * Registrar's confirm. Only `acceptConfirm` reports the association: before the Registrar's key confirmation has
 * verified, nothing says the Registrar accepted the finish or derived the same keys (RFC 8446 4.4.4), and the lifetime
 * comes with the confirm (the challenge answers an unauthenticated hello, so it tells nothing of the credential).
 */
export class RegistreeHandshake {
  readonly hello: AssociationHello;
  readonly #o: RegistreeOptions;
  readonly #configuration: AssociationConfiguration;
  readonly #transcript: Transcript;
  #ephemeral: KeyHandle | undefined;
  #awaiting: AwaitingConfirm | undefined;
  #stage: Stage = 'hello_sent';

  constructor(options: RegistreeOptions, configuration: AssociationConfiguration, hello: AssociationHello, ephemeral: KeyHandle) {
    this.#o = options;
    this.#configuration = configuration;
    this.hello = hello;
    this.#ephemeral = ephemeral;
    this.#transcript = transcriptFromHello(PROTOCOL, hello);
  }

  /** Authenticates the Registrar and answers with the finish; the association is not established yet. */
  async acceptChallenge(input: unknown): Promise<{ finish: AssociationFinish }> {
    return this.#step(CHALLENGE, 'hello_sent', 'finish_sent', () => this.#accept(input));
  }

  /**
   * Verifies the Registrar's key confirmation, which covers the grant, then the grant itself (clause 11.3.2); only
   * then is the association established on this side.
   */
  async acceptConfirm(input: unknown): Promise<AssociationOutcome> {
    return this.#step(CONFIRM, 'finish_sent', 'established', () => this.#confirm(input));
  }

  /** Ends the run: every key it made that no outcome reported is destroyed. */
  async abort(): Promise<void> {
    this.#stage = 'failed';
    await destroyQuietly(this.#o.se, this.#ephemeral);
    const awaiting = this.#awaiting;
    if (awaiting) await destroyQuietly(this.#o.se, awaiting.finished.registreeFinished, awaiting.finished.registrarFinished, awaiting.handshakeSecret);
    this.#ephemeral = undefined;
    this.#awaiting = undefined;
  }

  async #step<T>(step: string, from: Stage, to: Stage, run: () => Promise<T>): Promise<T> {
    if (this.#stage !== from) throw protocolFailure(step, 'unknown_session', `this handshake is ${this.#stage}`);
    try {
      const result = await run();
      this.#stage = to;
      return result;
    } catch (error) {
      await this.abort();
      throw error;
    }
  }

  async #accept(input: unknown): Promise<{ finish: AssociationFinish }> {
    const { se, credential } = this.#o;
    const challenge = parseAssociationMessage(AssociationChallenge, input, CHALLENGE);
    const { hello } = this;
    if (challenge.registrarId !== hello.registrarId || challenge.registreeId !== hello.registreeId) throw protocolFailure(CHALLENGE, 'wrong_identity');
    if (challenge.registreeNonce !== hello.registreeNonce) throw protocolFailure(CHALLENGE, 'nonce_mismatch');
    const peer = acceptEphemeralAnswer(CHALLENGE, hello.ephemeral, challenge.ephemeral);
    if (peer === undefined) throw protocolFailure(CHALLENGE, 'invalid_ephemeral_key');
    const thChallenge = this.#transcript.absorb(challenge.type, withoutFields(challenge, 'proof'));
    const verifier = this.#registrarVerifier();
    await assertProof(se, verifier, proofFor('registrar', 'challenge', thChallenge), challenge.proof, CHALLENGE, 'Registrar CSE authentication failed');

    const ephemeral = this.#ephemeral as KeyHandle;
    this.#ephemeral = undefined; // deriveHandshake destroys it ('destroy', its default), whatever happens
    // Only the Finished keys and hs now, both in memory: the session keys are stored once the Registrar is confirmed.
    const { finished, handshakeSecret } = await deriveHandshake(
      se,
      { ephemeral, peerPublicKey: peer, ...(credential.descriptor.kind === 'psk256' ? { psk: credential.handle } : {}) },
      thChallenge,
      CHALLENGE,
    );
    this.#awaiting = { challenge, finished, handshakeSecret, keyScheduleHash: thChallenge };
    const unsigned = { type: 'association.finish' as const, version: ASSOCIATION_VERSION, sessionId: challenge.sessionId, registrarNonce: challenge.registrarNonce };
    const th = this.#transcript.absorb(unsigned.type, unsigned);
    const signer: CredentialKey = { kind: credential.descriptor.kind, handle: credential.handle };
    const proof = await prove(se, signer, proofFor('registree', 'finish', th));
    const keyConfirmation = toBase64url(await se.mac(finished.registreeFinished, keyConfirmationFor('registree', th)));
    return { finish: { ...unsigned, proof, keyConfirmation } };
  }

  async #confirm(input: unknown): Promise<AssociationOutcome> {
    const { se } = this.#o;
    const confirm = parseAssociationMessage(AssociationConfirm, input, CONFIRM);
    const { challenge, finished, handshakeSecret, keyScheduleHash } = this.#awaiting as AwaitingConfirm;
    if (confirm.sessionId !== challenge.sessionId) throw protocolFailure(CONFIRM, 'unknown_session', 'the confirm is for another session');
    if (confirm.registreeNonce !== this.hello.registreeNonce) throw protocolFailure(CONFIRM, 'nonce_mismatch');
    const final = this.#transcript.absorb(confirm.type, withoutFields(confirm, 'keyConfirmation'));
    const registrarFinished: ProofVerifier = { kind: 'psk256', handle: finished.registrarFinished }; // an HMAC key, checked as a MAC
    await assertProof(se, registrarFinished, keyConfirmationFor('registrar', final), confirm.keyConfirmation, CONFIRM, 'Registrar CSE key confirmation failed');
    // The grant is the Registrar's (the MAC just verified covers it); whether it is one this end can accept is its own.
    const grant = this.#acceptGrant(confirm, this.#o.now());
    await destroyQuietly(se, finished.registreeFinished, finished.registrarFinished);
    this.#awaiting = undefined; // hs is deriveTraffic's to destroy; the session keys are the outcome's
    const traffic = await deriveTraffic(se, handshakeSecret, keyScheduleHash);
    const sessionKeys = { send: traffic.registreeToRegistrar, receive: traffic.registrarToRegistree };
    return associationOutcome('registree', this.hello, challenge, grant, sessionKeys, final, this.#o.now());
  }

  /** Clause 11.3.2: no longer than asked for, and ending strictly before the credential it is derived from. */
  #acceptGrant(grant: GrantedLifetime, now: Date): GrantedLifetime {
    if (grant.lifetimeSeconds > this.hello.requestedLifetimeSeconds) throw protocolFailure(CONFIRM, 'lifetime_exceeds_request');
    const expiresAt = Date.parse(grant.expiresAt);
    const skewMs = (this.#o.maxClockSkewSeconds ?? DEFAULT_MAX_CLOCK_SKEW_SECONDS) * 1000;
    if (expiresAt > now.getTime() + grant.lifetimeSeconds * 1000 + skewMs) throw protocolFailure(CONFIRM, 'lifetime_exceeds_request', 'expiry is later than the lifetime allows');
    if (!(expiresAt < Date.parse(this.#o.credential.descriptor.validity.notAfter))) throw protocolFailure(CONFIRM, 'lifetime_exceeds_credential');
    return { lifetimeSeconds: grant.lifetimeSeconds, expiresAt: grant.expiresAt };
  }

  #registrarVerifier(): ProofVerifier {
    const key = this.#configuration.registrarKey;
    const pinned = key && { kind: key.kind, publicKey: fromBase64url(key.publicKey) };
    return responderVerifier(this.#o.credential, pinned, 'configuration.registrarKey is required for an asymmetric credential');
  }
}
