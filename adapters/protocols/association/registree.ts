import type { AgreementGroup } from '../../../domain/crypto/agreement.ts';
import { fromBase64url } from '../../../domain/crypto/base64url.ts';
import { associationOutcome } from '../../../domain/protocols/association-outcome.ts';
import type { Clock } from '../../../domain/ports/clock.ts';
import type { RandomSource } from '../../../domain/ports/random.ts';
import { validityAt, type CredentialDescriptor } from '../../../domain/crypto/credential.ts';
import { newNonce, parseMessage, protocolFailure } from '../../../domain/protocols/protocol.ts';
import { withoutFields, type Transcript } from '../../../domain/crypto/transcript.ts';
import { destroyQuietly } from '../shared/destroy-quietly.ts';
import type { KeyHandle, SecureEnvironment } from '../../../domain/ports/secure-environment.ts';
import { assertProof, prove, type CredentialKey, type ProofVerifier } from '../shared/proof.ts';
import { DEFAULT_MAX_CLOCK_SKEW_SECONDS } from '../../../domain/protocols/clock-skew.ts';
import { responderVerifier } from '../shared/credential-keys.ts';
import { acceptEphemeralAnswer, ephemeralGroup } from '../../../domain/protocols/ephemeral.ts';
import { wireEphemeral } from '../shared/wire-ephemeral.ts';
import { transcriptFromHello } from '../../../domain/protocols/run-transcript.ts';
import {
  AssociationChallenge,
  AssociationConfiguration,
  type AssociationFinish,
  type AssociationHello,
  type AssociationOutcome,
} from '../../../domain/protocols/association-messages.ts';
import { deriveSessionKey, PROTOCOL, proofFor } from './session-key.ts';

export interface RegistreeOptions {
  /** The Registree's CSE-ID or AE-ID. */
  readonly id: string;
  readonly owner: string;
  readonly se: SecureEnvironment;
  readonly now: Clock['now'];
  readonly random: RandomSource;
  /** The credential from enrolment (clause 11.3.2: "the credentials resulting from ... enrolment"). */
  readonly credential: { readonly handle: KeyHandle; readonly descriptor: CredentialDescriptor };
  /** Clause 11.3.1 association configuration; parsed here. */
  readonly configuration: AssociationConfiguration;
  readonly maxClockSkewSeconds?: number;
}

type Stage = 'hello_sent' | 'established' | 'failed';
const CHALLENGE = 'association.challenge';

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

  /** Starts a handshake asking for `lifetimeSeconds`; the Registrar may grant less, never more. */
  async start(request: { readonly lifetimeSeconds: number; readonly agreementGroup?: AgreementGroup }): Promise<RegistreeHandshake> {
    const { se, owner, credential } = this.#o;
    const state = validityAt(credential.descriptor.validity, this.#o.now());
    if (state !== 'active') throw protocolFailure('association.start', state === 'expired' ? 'credential_expired' : 'credential_not_yet_valid');
    const kind = credential.descriptor.kind;
    const group = ephemeralGroup(kind, request.agreementGroup);
    const ephemeral = kind === 'psk256' ? undefined : await se.generate(owner, group, { ephemeral: true });
    const ephemeralKey = ephemeral ? await wireEphemeral(se, owner, group, ephemeral) : undefined;
    const hello: AssociationHello = {
      type: 'association.hello',
      version: 1,
      registreeId: this.#o.id,
      registrarId: this.#configuration.registrarId,
      credential: { kind, fingerprint: credential.descriptor.fingerprint },
      registreeNonce: newNonce(this.#o.random),
      ...(ephemeralKey ? { ephemeral: ephemeralKey } : {}),
      requestedLifetimeSeconds: request.lifetimeSeconds,
      sentAt: this.#o.now().toISOString(),
    };
    return new RegistreeHandshake(this.#o, this.#configuration, hello, ephemeral);
  }
}

/** One handshake run on the Registree: send `hello`, feed it the challenge, send the returned `finish`. */
export class RegistreeHandshake {
  readonly hello: AssociationHello;
  readonly #o: RegistreeOptions;
  readonly #configuration: AssociationConfiguration;
  readonly #transcript: Transcript;
  #ephemeral: KeyHandle | undefined;
  #stage: Stage = 'hello_sent';

  constructor(options: RegistreeOptions, configuration: AssociationConfiguration, hello: AssociationHello, ephemeral: KeyHandle | undefined) {
    this.#o = options;
    this.#configuration = configuration;
    this.hello = hello;
    this.#ephemeral = ephemeral;
    this.#transcript = transcriptFromHello(PROTOCOL, hello);
  }

  async acceptChallenge(input: unknown): Promise<{ finish: AssociationFinish; outcome: AssociationOutcome }> {
    if (this.#stage !== 'hello_sent') throw protocolFailure(CHALLENGE, 'unknown_session', `this handshake is ${this.#stage}`);
    try {
      const result = await this.#accept(input);
      this.#stage = 'established';
      return result;
    } catch (error) {
      await this.abort();
      throw error;
    }
  }

  async abort(): Promise<void> {
    this.#stage = 'failed';
    await destroyQuietly(this.#o.se, this.#o.owner, this.#ephemeral);
    this.#ephemeral = undefined;
  }

  async #accept(input: unknown): Promise<{ finish: AssociationFinish; outcome: AssociationOutcome }> {
    const { se, owner, credential } = this.#o;
    const now = this.#o.now();
    const challenge = parseMessage(AssociationChallenge, input, CHALLENGE);
    const { hello } = this;
    if (challenge.registrarId !== hello.registrarId || challenge.registreeId !== hello.registreeId) throw protocolFailure(CHALLENGE, 'wrong_identity');
    if (challenge.registreeNonce !== hello.registreeNonce) throw protocolFailure(CHALLENGE, 'nonce_mismatch');
    const peer = acceptEphemeralAnswer(CHALLENGE, hello.ephemeral, challenge.ephemeral);
    const thChallenge = this.#transcript.absorb(challenge.type, withoutFields(challenge, 'proof'));
    const verifier = this.#registrarVerifier();
    await assertProof(se, owner, verifier, proofFor('registrar', 'challenge', thChallenge), challenge.proof, CHALLENGE, 'Registrar CSE authentication failed');
    // Clause 11.3.2: the association must end strictly before the credential it is derived from.
    if (challenge.lifetimeSeconds > hello.requestedLifetimeSeconds) throw protocolFailure(CHALLENGE, 'lifetime_exceeds_request');
    const expiresAt = Date.parse(challenge.expiresAt);
    const skewMs = (this.#o.maxClockSkewSeconds ?? DEFAULT_MAX_CLOCK_SKEW_SECONDS) * 1000;
    if (expiresAt > now.getTime() + challenge.lifetimeSeconds * 1000 + skewMs) throw protocolFailure(CHALLENGE, 'lifetime_exceeds_request', 'expiry is later than the lifetime allows');
    if (!(expiresAt < Date.parse(credential.descriptor.validity.notAfter))) throw protocolFailure(CHALLENGE, 'lifetime_exceeds_credential');

    const sessionKeyHandle = await deriveSessionKey(
      se,
      owner,
      peer ? { ephemeral: this.#ephemeral as KeyHandle, peerPublicKey: peer } : { psk: credential.handle },
      thChallenge,
      CHALLENGE,
    );
    this.#ephemeral = undefined;
    try {
      const unsigned = { type: 'association.finish' as const, version: 1 as const, sessionId: challenge.sessionId, registrarNonce: challenge.registrarNonce };
      const th = this.#transcript.absorb(unsigned.type, unsigned);
      const signer: CredentialKey = { kind: credential.descriptor.kind, handle: credential.handle };
      const finish = { ...unsigned, proof: await prove(se, owner, signer, proofFor('registree', 'finish', th)) };
      return {
        finish,
        outcome: associationOutcome('registree', hello, challenge, sessionKeyHandle, th, now),
      };
    } catch (error) {
      await destroyQuietly(se, owner, sessionKeyHandle);
      throw error;
    }
  }

  #registrarVerifier(): ProofVerifier {
    const key = this.#configuration.registrarKey;
    const pinned = key && { kind: key.kind, publicKey: fromBase64url(key.publicKey) };
    return responderVerifier(this.#o.credential, pinned, 'configuration.registrarKey is required for an asymmetric credential');
  }
}
