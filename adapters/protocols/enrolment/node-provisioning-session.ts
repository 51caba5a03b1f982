import { fromBase64url, toBase64url } from '../../../domain/crypto/base64url.ts';
import type { Clock } from '../../../domain/ports/clock.ts';
import type { RandomSource } from '../../../domain/ports/random.ts';
import type { CredentialDescriptor } from '../../../domain/crypto/credential.ts';
import { parseMessage, protocolFailure } from '../../../domain/protocols/protocol.ts';
import type { SignatureKind } from '../../../domain/crypto/signatures.ts';
import { canonicalJson, withoutFields, type Transcript } from '../../../domain/crypto/transcript.ts';
import { destroyQuietly } from '../shared/destroy-quietly.ts';
import type { KeyHandle, OwnedSecureEnvironment } from '../../../domain/ports/secure-environment.ts';
import { assertProof, prove, type CredentialKey, type ProofVerifier } from '../shared/proof.ts';
import { responderVerifier } from '../shared/credential-keys.ts';
import { acceptEphemeralAnswer } from '../../../domain/protocols/ephemeral.ts';
import { transcriptFromHello } from '../../../domain/protocols/run-transcript.ts';
import { deliveryKey } from './key-delivery.ts';
import { deliveryAad, PROTOCOL, proofFor } from '../../../domain/protocols/provisioning-proofs.ts';
import { receiptStatement, statementCredential, statementProofInput } from '../../../domain/protocols/provisioning-statement.ts';
import { certificateFingerprint } from '../../../domain/crypto/fingerprint.ts';
import { DEFAULT_MAX_CLOCK_SKEW_SECONDS } from '../../../domain/protocols/clock-skew.ts';
import {
  CERTIFICATE_HANDOVER,
  certificateHandover,
  ProvisioningChallenge,
  ProvisioningDelivery,
  type NodeProvisioningResult,
  type ProvisioningAuth,
  type ProvisioningHello,
  type ProvisioningReceipt,
} from '../../../domain/protocols/enrolment-messages.ts';
import { nodeCertificationRequest, withCertificate } from './node-certificate.ts';

export interface ProvisioningClientOptions {
  readonly nodeId: string;
  /** The node's Secure Environment, as its owner sees it (bound by whoever wires the client). */
  readonly se: OwnedSecureEnvironment;
  readonly now: Clock['now'];
  readonly random: RandomSource;
  /** The pre-existing credential (seed 004 Initialization), with its IDevID chain (leaf first) when certified. */
  readonly bootstrap: { readonly handle: KeyHandle; readonly descriptor: CredentialDescriptor; readonly certificateChain?: readonly Uint8Array[] };
  /** Whom the node enrols with; the public key authenticates it when the bootstrap is asymmetric. */
  readonly enrolmentFunction: { readonly id: string; readonly publicKey?: { readonly kind: SignatureKind; readonly bytes: Uint8Array } };
  /** The clock skew the Enrolment Function accepts (clock-skew.ts): its times are judged on this node's clock within it. */
  readonly maxClockSkewSeconds?: number;
}

type Stage = 'hello_sent' | 'authenticated' | 'finished' | 'handed_over' | 'failed';

const CHALLENGE = 'provisioning.challenge';
const DELIVERY = 'provisioning.delivery';
const RECORDED = 'provisioning.recorded';

/**
 * One provisioning run on the node. Each method takes the Enrolment Function's message and returns the node's
 * answer; a refused message ends the run (further calls fail) and destroys the keys made for it.
 */
export class NodeProvisioningSession {
  readonly hello: ProvisioningHello;
  readonly #o: ProvisioningClientOptions;
  readonly #transcript: Transcript;
  readonly #signer: CredentialKey;
  #ephemeral: KeyHandle | undefined;
  #stage: Stage = 'hello_sent';
  #challenge?: ProvisioningChallenge;
  #verifier?: ProofVerifier;
  #authTranscript?: Uint8Array;
  #credentialKey?: KeyHandle;
  /** The credential as delivered, until the Enrolment Function's handover adds its certificate (if any). */
  #delivered?: CredentialDescriptor;
  readonly #requestCertificate: boolean;

  constructor(options: ProvisioningClientOptions, hello: ProvisioningHello, ephemeral: KeyHandle | undefined, requestCertificate = true) {
    this.#o = options;
    this.#requestCertificate = requestCertificate;
    this.hello = hello;
    this.#ephemeral = ephemeral;
    this.#signer = { kind: options.bootstrap.descriptor.kind, handle: options.bootstrap.handle };
    this.#transcript = transcriptFromHello(PROTOCOL, hello);
  }

  async acceptChallenge(input: unknown): Promise<ProvisioningAuth> {
    return this.#step('hello_sent', CHALLENGE, async () => {
      const { se, now } = this.#o;
      const challenge = parseMessage(ProvisioningChallenge, input, CHALLENGE);
      const { hello } = this;
      if (challenge.nodeId !== hello.nodeId || challenge.enrolmentFunctionId !== hello.enrolmentFunctionId) {
        throw protocolFailure(CHALLENGE, 'wrong_identity');
      }
      if (challenge.nodeNonce !== hello.nodeNonce) throw protocolFailure(CHALLENGE, 'nonce_mismatch');
      if (challenge.credentialKind !== hello.credentialKind) throw protocolFailure(CHALLENGE, 'credential_mismatch', 'not the requested kind');
      // The expiry is the Enrolment Function's time, which may be off this node's by as much as the skew it accepted
      // the hello with (found in review 207: a node 121 to 300 s ahead refused every challenge). The challenge answers
      // this run's own nonce, so the allowance opens no replay; the Enrolment Function holds its run to its own clock.
      const at = now();
      const skewMs = (this.#o.maxClockSkewSeconds ?? DEFAULT_MAX_CLOCK_SKEW_SECONDS) * 1000;
      if (Date.parse(challenge.expiresAt) + skewMs <= at.getTime()) {
        throw protocolFailure(CHALLENGE, 'stale', `expires ${challenge.expiresAt}, the node's clock says ${at.toISOString()} (allowing ${skewMs / 1000} s of clock skew)`);
      }
      if (Date.parse(challenge.validity.notAfter) <= now().getTime()) throw protocolFailure(CHALLENGE, 'credential_expired');
      acceptEphemeralAnswer(CHALLENGE, hello.ephemeral, challenge.ephemeral);
      const th = this.#transcript.absorb(challenge.type, withoutFields(challenge, 'proof'));
      const verifier = this.#enrolmentFunctionVerifier();
      await assertProof(
        se,
        verifier,
        proofFor('enrolment-function', 'challenge', th),
        challenge.proof,
        CHALLENGE,
        'Enrolment Function authentication failed',
      );
      this.#challenge = challenge;
      this.#verifier = verifier;
      // An asymmetric service credential is generated here, inside the node's Secure Environment: the private
      // key never leaves it and the Enrolment Function never holds it (non-repudiation; seed 001 note 5).
      const kind = hello.credentialKind;
      if (kind !== 'psk256') this.#credentialKey = await se.generate(kind, { usage: 'sign' });
      const publicKey = this.#credentialKey ? (await se.describe(this.#credentialKey)).publicKey : undefined;
      const csr =
        kind !== 'psk256' && publicKey && this.#requestCertificate
          ? await nodeCertificationRequest(se, this.#credentialKey as KeyHandle, hello.nodeId, kind, publicKey)
          : undefined;
      const unsigned = {
        type: 'provisioning.auth' as const,
        version: 1 as const,
        sessionId: challenge.sessionId,
        enrolmentNonce: challenge.enrolmentNonce,
        ...(publicKey ? { credentialPublicKey: toBase64url(publicKey) } : {}),
        ...(csr ? { csr: toBase64url(csr) } : {}),
      };
      const thAuth = this.#transcript.absorb(unsigned.type, unsigned);
      this.#authTranscript = thAuth;
      const proofOfPossession =
        this.#credentialKey && kind !== 'psk256'
          ? await prove(se, { kind, handle: this.#credentialKey }, proofFor('node', 'proof-of-possession', thAuth))
          : undefined;
      return {
        ...unsigned,
        ...(proofOfPossession ? { proofOfPossession } : {}),
        proof: await prove(se, this.#signer, proofFor('node', 'auth', thAuth)),
      };
    }, 'authenticated');
  }

  async acceptDelivery(input: unknown): Promise<{ receipt: ProvisioningReceipt; result: NodeProvisioningResult }> {
    return this.#step('authenticated', DELIVERY, async () => {
      const { se, now } = this.#o;
      const delivery = parseMessage(ProvisioningDelivery, input, DELIVERY);
      const challenge = this.#challenge as ProvisioningChallenge;
      if (delivery.sessionId !== challenge.sessionId) throw protocolFailure(DELIVERY, 'unknown_session');
      const th = this.#transcript.absorb(delivery.type, withoutFields(delivery, 'proof'));
      const verifier = this.#verifier as ProofVerifier;
      await assertProof(
        se,
        verifier,
        proofFor('enrolment-function', 'delivery', th),
        delivery.proof,
        DELIVERY,
        'delivery not authenticated by the Enrolment Function',
      );
      const { credential } = delivery;
      // The validity may end before the challenge's offer, never after it nor start elsewhere: the Enrolment Function
      // cuts it, past the node's proof, to the end of the node's M2M service subscription (seed 003 11.2.1; review 195).
      const expected = { kind: this.hello.credentialKind, notBefore: challenge.validity.notBefore, owner: { kind: 'node', id: this.hello.nodeId } };
      const delivered = { kind: credential.kind, notBefore: credential.validity.notBefore, owner: credential.owner };
      const notAfter = Date.parse(credential.validity.notAfter);
      if (canonicalJson(expected) !== canonicalJson(delivered) || !(notAfter <= Date.parse(challenge.validity.notAfter) && notAfter > now().getTime())) {
        throw protocolFailure(DELIVERY, 'credential_mismatch', 'descriptor differs from what was agreed');
      }
      if (credential.kind === 'psk256') {
        await this.#receivePsk(delivery, credential);
      } else {
        const own = (await se.describe(this.#credentialKey as KeyHandle)).publicKey as Uint8Array;
        if (credential.publicKey !== toBase64url(own)) throw protocolFailure(DELIVERY, 'credential_mismatch', 'not the key this node generated');
        if (credential.certificate !== undefined) withCertificate(credential, credential.certificate, DELIVERY);
      }
      const handle = this.#credentialKey as KeyHandle;
      const { hello } = this;
      const unsigned = {
        type: 'provisioning.receipt' as const,
        version: 2 as const,
        sessionId: delivery.sessionId,
        credentialFingerprint: credential.fingerprint,
        completedAt: this.#o.now().toISOString(),
      };
      const thReceipt = this.#transcript.absorb(unsigned.type, unsigned);
      // The node states what it was provisioned with (issue 11 item 5): its bootstrap proof says who states it, its
      // new credential's proof confirms the key; both cover the whole transcript through transcriptHash.
      const leaf = hello.certificateChain?.[0];
      const statement = receiptStatement({
        sessionId: delivery.sessionId,
        nodeId: hello.nodeId,
        enrolmentFunctionId: hello.enrolmentFunctionId,
        credentialId: hello.credentialId,
        credential: statementCredential(credential),
        bootstrap: {
          kind: hello.bootstrap.kind,
          fingerprint: hello.bootstrap.fingerprint,
          manufacturerCertificateFingerprint: leaf === undefined ? undefined : certificateFingerprint(fromBase64url(leaf)),
        },
        serviceParameters: delivery.serviceParameters,
        transcriptHash: toBase64url(thReceipt),
        completedAt: unsigned.completedAt,
      });
      const receipt: ProvisioningReceipt = {
        ...unsigned,
        bootstrapProof: await prove(se, this.#signer, statementProofInput('bootstrap', statement)),
        credentialProof: await prove(se, { kind: credential.kind, handle }, statementProofInput('credential', statement)),
      };
      this.#credentialKey = undefined; // kept: it is the node's new credential
      this.#delivered = credential;
      return {
        receipt,
        result: { credential, handle, serviceParameters: delivery.serviceParameters, transcriptHash: toBase64url(thReceipt) },
      };
    }, 'finished');
  }

  /**
   * What the Enrolment Function hands over with the answer that the credential is recorded: the certificate its
   * issuing CA made from this run's CSR, or none, under its proof (`certificateProof`) over the run's transcript. The
   * answer itself is not signed: a certificate stripped or replaced on the path fails here. Returns the credential
   * with its certificate; one that does not certify this node's key is `credential_mismatch`.
   */
  async acceptCertificate(certificate: string | undefined, certificateProof: string): Promise<CredentialDescriptor> {
    return this.#step('finished', RECORDED, async () => {
      const th = this.#transcript.absorb(CERTIFICATE_HANDOVER, certificateHandover(certificate));
      const verifier = this.#verifier as ProofVerifier;
      await assertProof(this.#o.se, verifier, proofFor('enrolment-function', 'certificate', th), certificateProof, RECORDED, 'certificate not handed over by the Enrolment Function');
      const credential = this.#delivered as CredentialDescriptor;
      return certificate === undefined ? credential : withCertificate(credential, certificate, RECORDED);
    }, 'handed_over');
  }

  /** Ends the run early and destroys the keys made for it. */
  async abort(): Promise<void> {
    this.#stage = 'failed';
    await destroyQuietly(this.#o.se, this.#ephemeral, this.#credentialKey);
    this.#ephemeral = undefined;
    this.#credentialKey = undefined;
  }

  async #receivePsk(delivery: ProvisioningDelivery, credential: CredentialDescriptor): Promise<void> {
    const { se } = this.#o;
    if (delivery.wrappedKey === undefined) throw protocolFailure(DELIVERY, 'malformed', 'wrappedKey missing');
    const peer = fromBase64url(this.#challenge?.ephemeral?.publicKey ?? '');
    const authTranscript = this.#authTranscript as Uint8Array;
    const kek = await deliveryKey(se, this.#ephemeral as KeyHandle, peer, authTranscript, DELIVERY);
    try {
      const handle = await se.unwrap(kek, fromBase64url(delivery.wrappedKey), deliveryAad(authTranscript, credential), { kind: 'psk256' });
      if (handle === undefined) throw protocolFailure(DELIVERY, 'decryption_failed');
      this.#credentialKey = handle;
      if ((await se.describe(handle)).fingerprint !== credential.fingerprint) {
        throw protocolFailure(DELIVERY, 'credential_mismatch', 'delivered key does not match its fingerprint');
      }
    } finally {
      await destroyQuietly(se, kek, this.#ephemeral);
      this.#ephemeral = undefined;
    }
  }

  #enrolmentFunctionVerifier(): ProofVerifier {
    const { bootstrap, enrolmentFunction } = this.#o;
    const pinned = enrolmentFunction.publicKey && { kind: enrolmentFunction.publicKey.kind, publicKey: enrolmentFunction.publicKey.bytes };
    return responderVerifier(bootstrap, pinned, 'enrolmentFunction.publicKey is required for an asymmetric bootstrap');
  }

  async #step<T>(expected: Stage, step: string, run: () => Promise<T>, next: Stage): Promise<T> {
    if (this.#stage !== expected) throw protocolFailure(step, 'unknown_session', `this run is ${this.#stage}`);
    try {
      const result = await run();
      this.#stage = next;
      return result;
    } catch (error) {
      await this.abort();
      throw error;
    }
  }
}
