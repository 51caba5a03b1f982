import type { AgreementGroup } from '../../../domain/crypto/agreement.ts';
import { toBase64url } from '../../../domain/crypto/base64url.ts';
import type { CredentialKind } from '../../../domain/crypto/credential.ts';
import { newNonce } from '../../../domain/protocols/protocol.ts';
import { destroyQuietly } from '../shared/destroy-quietly.ts';
import { ephemeralGroup } from '../../../domain/protocols/ephemeral.ts';
import { wireEphemeral } from '../shared/wire-ephemeral.ts';
import type { ProvisioningHello } from '../../../domain/protocols/enrolment-messages.ts';
import { NodeProvisioningSession, type ProvisioningClientOptions } from './node-provisioning-session.ts';

export { NodeProvisioningSession } from './node-provisioning-session.ts';
export type { ProvisioningClientOptions } from './node-provisioning-session.ts';
export { withCertificate } from './node-certificate.ts';

export interface ProvisioningRequest {
  readonly credentialKind: CredentialKind;
  /** Group for the PSK delivery key agreement; default P-256 for P-256 bootstraps, X25519 otherwise. */
  readonly agreementGroup?: AgreementGroup;
  /** The id the credential will be recorded under: sent in the hello, so the receipt statement binds it. */
  readonly credentialId?: string;
  /** The live credential of this node the new one succeeds (rotation, HLR-212): sent in the hello, which the proofs cover. */
  readonly predecessorId?: string | undefined;
  /**
   * For an asymmetric credential, ask for an operational X.509 certificate: a PKCS#10 CSR signed with the new key
   * inside the Secure Environment goes with the auth (issue 13). Default true; an Enrolment Function without an
   * issuing CA delivers the credential without a certificate.
   */
  readonly requestCertificate?: boolean;
}

/** The node (device) side of remote provisioning: `start` a run, then feed it the Enrolment Function's messages. */
export class ProvisioningClient {
  readonly #o: ProvisioningClientOptions;

  constructor(options: ProvisioningClientOptions) {
    this.#o = options;
  }

  async start(request: ProvisioningRequest): Promise<NodeProvisioningSession> {
    const { se, bootstrap } = this.#o;
    const group = ephemeralGroup(bootstrap.descriptor.kind, request.agreementGroup);
    const ephemeral = request.credentialKind === 'psk256' ? await se.generate(group, { ephemeral: true, usage: 'agree' }) : undefined;
    let ephemeralKey: Awaited<ReturnType<typeof wireEphemeral>>;
    try {
      ephemeralKey = ephemeral ? await wireEphemeral(se, group, ephemeral) : undefined;
    } catch (error) {
      // No run holds it yet: it would outlive the start that failed (found in review).
      await destroyQuietly(se, ephemeral);
      throw error;
    }
    const hello: ProvisioningHello = {
      type: 'provisioning.hello',
      version: 1,
      nodeId: this.#o.nodeId,
      enrolmentFunctionId: this.#o.enrolmentFunction.id,
      ...(request.credentialId !== undefined ? { credentialId: request.credentialId } : {}),
      ...(request.predecessorId !== undefined ? { predecessorId: request.predecessorId } : {}),
      bootstrap: { kind: bootstrap.descriptor.kind, fingerprint: bootstrap.descriptor.fingerprint },
      ...(bootstrap.certificateChain ? { certificateChain: bootstrap.certificateChain.map(toBase64url) } : {}),
      credentialKind: request.credentialKind,
      ...(ephemeralKey ? { ephemeral: ephemeralKey } : {}),
      nodeNonce: newNonce(this.#o.random),
      sentAt: this.#o.now().toISOString(),
    };
    return new NodeProvisioningSession(this.#o, hello, ephemeral, request.requestCertificate ?? true);
  }
}
