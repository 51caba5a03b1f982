import type { CredentialDescriptor, CredentialKind } from '../../../domain/crypto/credential.ts';
import { publicKeyFingerprint } from '../../../domain/crypto/fingerprint.ts';
import { toBase64url } from '../../../domain/crypto/index.ts';
import type { Clock } from '../../../domain/ports/clock.ts';
import type { RandomSource } from '../../../domain/ports/random.ts';
import { ProvisioningClient } from '../enrolment/index.ts';
import { Registree } from '../association/index.ts';
import { ownerView, type OwnedSecureEnvironment, type SecureEnvironment } from '../../../domain/ports/index.ts';
import { type KeyHandle } from '../../../domain/ports/index.ts';

export interface DeviceCredential {
  readonly handle: KeyHandle;
  readonly descriptor: CredentialDescriptor;
}

export interface DeviceOptions {
  readonly nodeId: string;
  /** The device's own Secure Environment; the device acts in it only as `node:<nodeId>`, through one view. */
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
  /** The device's Secure Environment as its owner sees it; what the device's protocol ends are given. */
  readonly se: OwnedSecureEnvironment;
  readonly credentials = new Map<string, DeviceCredential>();
  bootstrap: DeviceCredential | undefined;
  /** The manufacturer (IDevID) certificate chain of the bootstrap key, leaf first, when the factory issued one. */
  bootstrapChain: Uint8Array[] | undefined;
  /** Service parameters received at provisioning (CSE-ID, M2M-Sub-ID). */
  cseId: string | undefined;

  readonly #now: Clock['now'];
  readonly #random: RandomSource;

  /** Binds the device's owner once; the whole environment is not kept, only this owner's view of it. */
  constructor(options: DeviceOptions) {
    this.nodeId = options.nodeId;
    this.#now = options.now;
    this.#random = options.random;
    this.owner = `node:${options.nodeId}`;
    this.se = ownerView(options.se, this.owner);
  }

  /** Factory key generation inside the device's Secure Environment (seed 004 Initialization). */
  async generateBootstrap(kind: Exclude<CredentialKind, 'psk256'>, validity: { notBefore: string; notAfter: string }): Promise<DeviceCredential> {
    const handle = await this.se.generate(kind, { usage: 'sign' });
    const publicKey = (await this.se.describe(handle)).publicKey!;
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
      se: this.se,
      now: this.#now,
      random: this.#random,
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
      se: this.se,
      now: this.#now,
      random: this.#random,
      credential,
      configuration: { registrarId: registrar.id, registrarKey: registrar.key },
    });
  }
}
