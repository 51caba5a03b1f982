import type { CredentialDescriptor, CredentialKind } from '../../../domain/crypto/credential.ts';
import { publicKeyFingerprint } from '../../../domain/crypto/fingerprint.ts';
import { toBase64url } from '../../../domain/crypto/index.ts';
import type { Clock } from '../../../domain/ports/clock.ts';
import type { RandomSource } from '../../../domain/ports/random.ts';
import { ProvisioningClient } from '../enrolment/index.ts';
import { Registree } from '../association/index.ts';
import { type SecureEnvironment } from '../../../domain/ports/index.ts';
import { type KeyHandle } from '../../../domain/ports/index.ts';

export interface DeviceCredential {
  readonly handle: KeyHandle;
  readonly descriptor: CredentialDescriptor;
}

export interface DeviceOptions {
  readonly nodeId: string;
  readonly se: SecureEnvironment;
  readonly now: Clock['now'];
  readonly random: RandomSource;
}

/**
 * The node side of every procedure, playing the device: its own Secure Environment (keys never leave it), its
 * bootstrap credential from the factory, and the credentials it was provisioned with. It speaks the same
 * messages a real device would (ProvisioningClient, Registree); the infrastructure never reaches into it.
 */
export class Device {
  readonly nodeId: string;
  readonly owner: string;
  readonly credentials = new Map<string, DeviceCredential>();
  bootstrap: DeviceCredential | undefined;
  /** The manufacturer (IDevID) certificate chain of the bootstrap key, leaf first, when the factory issued one. */
  bootstrapChain: Uint8Array[] | undefined;
  /** Service parameters received at provisioning (CSE-ID, M2M-Sub-ID). */
  cseId: string | undefined;

  constructor(private readonly options: DeviceOptions) {
    this.nodeId = options.nodeId;
    this.owner = `node:${options.nodeId}`;
  }

  get se(): SecureEnvironment {
    return this.options.se;
  }

  /** Factory key generation inside the device's Secure Environment (seed 004 Initialization). */
  async generateBootstrap(kind: Exclude<CredentialKind, 'psk256'>, validity: { notBefore: string; notAfter: string }): Promise<DeviceCredential> {
    const handle = await this.se.generate(this.owner, kind);
    const publicKey = (await this.se.describe(this.owner, handle)).publicKey!;
    const descriptor: CredentialDescriptor = {
      kind,
      fingerprint: publicKeyFingerprint(kind, publicKey),
      publicKey: toBase64url(publicKey),
      validity,
      owner: { kind: 'node', id: this.nodeId },
    };
    this.bootstrap = { handle, descriptor };
    return this.bootstrap;
  }

  /** Adopts a bootstrap PSK the factory placed in the device's Secure Environment. */
  adoptBootstrap(credential: DeviceCredential): void {
    this.bootstrap = credential;
  }

  provisioningClient(enrolmentFunction: { id: string; publicKey: { kind: 'ed25519' | 'p256'; bytes: Uint8Array } }, certificateChain?: Uint8Array[]): ProvisioningClient {
    if (this.bootstrap === undefined) throw new Error(`device ${this.nodeId} has no bootstrap credential`);
    return new ProvisioningClient({
      nodeId: this.nodeId,
      owner: this.owner,
      se: this.se,
      now: this.options.now,
      random: this.options.random,
      bootstrap: { ...this.bootstrap, ...((certificateChain ?? this.bootstrapChain) !== undefined ? { certificateChain: certificateChain ?? this.bootstrapChain! } : {}) },
      enrolmentFunction,
    });
  }

  /** Association Configuration (11.3.1): the Registrar CSE-ID and its key, for one of this device's credentials. */
  registree(credentialId: string, registree: string, registrar: { id: string; key: { kind: 'ed25519' | 'p256'; publicKey: string } }): Registree {
    const credential = this.credentials.get(credentialId);
    if (credential === undefined) throw new Error(`device ${this.nodeId} holds no credential ${credentialId}`);
    return new Registree({
      id: registree,
      owner: this.owner,
      se: this.se,
      now: this.options.now,
      random: this.options.random,
      credential,
      configuration: { registrarId: registrar.id, registrarKey: registrar.key },
    });
  }
}
