import type { NodeProfile } from '../../../domain/events/index.ts';
import { streamIdOf } from '../../../domain/streams.ts';
import type { CredentialKind } from '../../../domain/crypto/credential.ts';
import { fromBase64url, toBase64url } from '../../../domain/crypto/index.ts';
import { verifyFactoryCertificate, type describeCertificate } from '../../../domain/x509/index.ts';
import { type KeyHandle } from '../../../domain/ports/index.ts';
import { type AssociationOutcome, type NodeProvisioningResult } from '../../../domain/protocols/index.ts';
import type { Registrar } from '../association/registrar.ts';
import type { Device } from './device.ts';
import { discardNewKey } from './discard-new-key.ts';
import { mayDiscardKeys, recordAssociation, recordProvisioningRun } from './record.ts';
import type { Infrastructure } from './infrastructure.ts';
import { destroyQuietly } from '../shared/destroy-quietly.ts';
import { transferKey } from './transfer-key.ts';
import { certificateOf } from './descriptors.ts';

type Validity = { readonly notBefore: string; readonly notAfter: string };
type RegistreeRef = { readonly kind: 'cse'; readonly id: string } | { readonly kind: 'ae'; readonly id: string; readonly appId: string };

/**
 * The security procedures end to end, both sides running for real: the device (its own Secure Environment,
 * ProvisioningClient, Registree) and the infrastructure (Enrolment Function, Registrar CSE), each recorded in the
 * engine only once the protocol has succeeded, so a failed run appends nothing.
 */
export class SecurityProcedures {
  constructor(private readonly infra: Infrastructure) {}

  /**
   * Initialization at the factory (seed 004): canonical Node-ID, generic profile, and a bootstrap credential
   * linked to both, generated in the device's Secure Environment (or, for a PSK, placed in both environments).
   */
  async preProvision(args: {
    device: Device; profile: NodeProfile; bootstrapCredentialId: string; kind: CredentialKind; validity: Validity;
    /** The manufacturer's CA certifying the bootstrap public key (IDevID, SER-SWIR-04): the chain, leaf first. */
    certify?: (kind: 'ed25519' | 'p256', publicKey: Uint8Array) => Promise<Uint8Array[]>;
  }) {
    const { device, validity } = args;
    let fingerprint: string;
    let publicKey: string | undefined;
    const infraSe = this.infra.o.se;
    await this.infra.assertUnused('node', device.nodeId);
    await this.infra.assertUnused('credential', args.bootstrapCredentialId);
    const previousBootstrap = device.bootstrap;
    const stream = streamIdOf('credential', args.bootstrapCredentialId);
    let psk: KeyHandle | undefined;
    let certificate: ReturnType<typeof describeCertificate> | undefined;
    if (args.kind === 'psk256') {
      // Made extractable only to travel: the device gets a copy, the infrastructure keeps a non-extractable one.
      const travelling = await infraSe.generate('psk256', { extractable: true });
      let onDevice: KeyHandle | undefined;
      try {
        onDevice = await transferKey({ se: infraSe, handle: travelling }, device.se);
        psk = await transferKey({ se: infraSe, handle: travelling }, infraSe);
        fingerprint = (await infraSe.describe(psk)).fingerprint;
        // Not quietly: an extractable copy left behind must fail the run (and take the copies with it).
        await infraSe.destroy(travelling);
      } catch (error) {
        // Neither side keeps a copy of a bootstrap PSK no registry will ever name (nothing sweeps them yet); quietly,
        // so that a failure to destroy one does not hide the error that ended the run.
        await destroyQuietly(device.se, onDevice);
        await destroyQuietly(infraSe, psk, travelling);
        throw error;
      }
      device.adoptBootstrap({ handle: onDevice, descriptor: { kind: 'psk256', fingerprint, validity, owner: { kind: 'node', id: device.nodeId } } });
    } else {
      const bootstrap = await device.generateBootstrap(args.kind, validity);
      fingerprint = bootstrap.descriptor.fingerprint;
      publicKey = bootstrap.descriptor.kind === 'psk256' ? undefined : bootstrap.descriptor.publicKey;
    }
    let provisioned;
    let confirming = false;
    try {
      // Pending until the credential is recorded as provisioned: a crash before that leaves a key swept at start.
      // Inside the try: a registry that refuses the binding leaves no key unbound (review 53).
      this.infra.keepPsk(args.bootstrapCredentialId, psk);
      const bootstrap = device.bootstrap;
      if (args.certify !== undefined && publicKey !== undefined && bootstrap !== undefined) {
        const chain = await args.certify(args.kind as 'ed25519' | 'p256', fromBase64url(publicKey));
        device.bootstrapChain = chain;
        const bootstrapKey = { kind: args.kind as 'ed25519' | 'p256', bytes: fromBase64url(publicKey) };
        certificate = await verifyFactoryCertificate(chain, this.infra.o.trustAnchors, this.infra.o.engine.clock.now(), bootstrapKey);
        device.adoptBootstrap({ ...bootstrap, descriptor: { ...bootstrap.descriptor, certificate: certificate.der } as typeof bootstrap.descriptor });
      }
      await this.infra.run('registerNode', { nodeId: device.nodeId, profile: args.profile, bootstrapCredentialId: args.bootstrapCredentialId });
      await this.infra.run('issueCredential', {
        credentialId: args.bootstrapCredentialId, kind: args.kind, purpose: 'bootstrap', owner: { kind: 'node', id: device.nodeId },
        fingerprint, ...(publicKey !== undefined ? { publicKey } : {}), notBefore: validity.notBefore, notAfter: validity.notAfter,
        ...(certificate !== undefined ? { certificate } : {}),
      });
      confirming = true;
      provisioned = await this.infra.run('provisionCredential', { credentialId: args.bootstrapCredentialId, method: 'pre-provisioning' });
    } catch (error) {
      // Not certified or not recorded (the same Node-ID registered concurrently, say): its new keys must not live on.
      // A provisioning whose outcome is unknown may be recorded: both ends keep the new keys (the next start's sweep
      // settles the infrastructure's against the store).
      if (!mayDiscardKeys(confirming, error)) throw error;
      const thrown = psk === undefined ? error : await discardNewKey(infraSe, this.infra.o.registry, { stream, handle: psk, purpose: 'psk' }, this.infra.o.engine.clock.now(), error);
      if (device.bootstrap !== undefined && device.bootstrap !== previousBootstrap) await device.se.destroy(device.bootstrap.handle);
      device.bootstrap = previousBootstrap;
      throw thrown;
    }
    this.infra.confirmPsk(args.bootstrapCredentialId, psk);
    return provisioned;
  }

  /**
   * Remote provisioning through the Enrolment Function (seed 003, 11.2.1; RS-05, RS-16, SER-020, SER-021): mutual
   * authentication on the bootstrap credential, then a PSK delivered encrypted or a key pair generated on the node
   * with proof of possession; the node's receipt ends it and goes into `CredentialProvisioned`.
   */
  async provisionRemotely(args: { device: Device; credentialId: string; kind: CredentialKind; predecessorId?: string; certificateChain?: Uint8Array[] }) {
    const { device } = args;
    await this.infra.assertUnused('credential', args.credentialId);
    const client = device.provisioningClient(
      { id: this.infra.enrolmentFunctionId, publicKey: { kind: this.infra.signing.kind, bytes: this.infra.signing.efPublicKey } },
      args.certificateChain,
    );
    const ef = this.infra.enrolmentFunction;
    const session = await client.start({ credentialKind: args.kind, credentialId: args.credentialId, predecessorId: args.predecessorId });
    let result: NodeProvisioningResult | undefined;
    try {
      // The predecessor travels with the run, as over a connection: the Enrolment Function checks it once the node authenticated.
      const auth = await session.acceptChallenge(await ef.acceptHello(session.hello, args.predecessorId !== undefined ? { predecessorId: args.predecessorId } : {}));
      const delivered = await session.acceptDelivery(await ef.acceptAuth(auth));
      result = delivered.result;
      const outcome = await ef.acceptReceipt(delivered.receipt);
      const provisioned = await recordProvisioningRun(this.infra, { outcome, credentialId: args.credentialId, purpose: 'service', predecessorId: args.predecessorId });
      // The certificate comes once recorded (EnrolmentFunction.acceptReceipt), under its proof, as over a connection.
      const descriptor = await session.acceptCertificate(certificateOf(outcome), outcome.certificateProof);
      device.credentials.set(args.credentialId, { handle: result.handle, descriptor });
      if (result.serviceParameters.cseId !== undefined) device.cseId = result.serviceParameters.cseId;
      return { outcome, provisioned };
    } catch (error) {
      // Refused by either end, not recorded, or its certificate refused: no key the device made or received for the
      // run lives on. The session holds the new key until the delivery hands it over as `result`, which is then the
      // caller's to destroy (as provisionOverHttp does); quietly, so a failed destroy does not hide why the run ended.
      await session.abort();
      if (result !== undefined) await destroyQuietly(device.se, result.handle);
      throw error;
    }
  }

  /**
   * Association Configuration (11.3.1) then the Association Handshake (11.3.2): mutual authentication, the session
   * key derived on both ends, a lifetime strictly shorter than the credential's remaining lifetime.
   */
  async associate(args: { device: Device; associationId: string; credentialId: string; lifetimeSeconds: number; registree?: RegistreeRef }) {
    const { device } = args;
    const registree = args.registree ?? { kind: 'cse' as const, id: device.cseId ?? `/${device.nodeId}` };
    await this.infra.run('configureAssociation', {
      associationId: args.associationId, nodeId: device.nodeId, credentialId: args.credentialId, registree, registrarCseId: this.infra.registrarCseId,
    });
    return this.establish({ ...args, registreeId: registree.id });
  }

  /**
   * The handshake of an association already configured; records `AssociationEstablished` only when both ends
   * have confirmed the keys: the Registrar verified the Registree's finish, the Registree the Registrar's confirm.
   * (Across a connection the Registrar records on the verified finish instead: see RegistrarEndpoint.) Its hello is
   * resolved against the association as the endpoint's is (`Infrastructure.registrarScope`), its rules run there, and
   * answered alike: one they refuse gets a decoy challenge, and the holder is told why at the finish. Review 249's
   * follow-up: it looked `credentialId` up by id alone, so a handshake on the credential an App-ID was moved off (or
   * under a revoked App-ID, an ended subscription, a moved CSE-ID) ran to its finish, refused only when recorded.
   */
  async establish(args: { device: Device; associationId: string; credentialId: string; lifetimeSeconds: number; registreeId: string }) {
    const registrarKey = { kind: this.infra.signing.kind, publicKey: toBase64url(this.infra.signing.registrarPublicKey) };
    const node = args.device.registree(args.credentialId, args.registreeId, { id: this.infra.registrarCseId, key: registrarKey });
    const scope = this.infra.registrarScope(args.associationId);
    const { registreeOutcome, registrarOutcome } = await (async () => {
      const handshake = await node.start({ lifetimeSeconds: args.lifetimeSeconds, associationId: args.associationId });
      let answered: Awaited<ReturnType<Registrar['acceptFinish']>>;
      try {
        const { finish } = await handshake.acceptChallenge(await this.infra.registrar.acceptHello(handshake.hello, scope));
        answered = await this.infra.registrar.acceptFinish(finish, args.associationId);
      } catch (error) {
        // The Registree ends its own run on a message it refuses, not on the Registrar's refusal: its ephemeral key, or
        // the handshake secret and Finished keys after its finish, would outlive the run.
        await handshake.abort();
        throw error;
      }
      const { confirm, outcome: registrar } = answered;
      try {
        // Registered pending at once, so a process that dies while the Registree checks the confirm leaves keys the
        // next start sweeps (recordAssociation registers them again, which changes nothing, and confirms them).
        // Inside the try: a registry that refuses a binding leaves no session key unbound (review 53).
        this.infra.keepSessionKeys(args.associationId, registrar);
        return { registreeOutcome: await handshake.acceptConfirm(confirm), registrarOutcome: registrar };
      } catch (error) {
        // The Registree refused the confirm (and destroyed its keys), or the registry the binding (the Registree's run
        // is ended here): the Registrar's keys must not live on either. One the Secure Environment will not destroy
        // now is owed, for the shredder to try again.
        await handshake.abort();
        const stream = streamIdOf('association', args.associationId);
        let thrown = error;
        for (const handle of [registrar.sessionKeys.send, registrar.sessionKeys.receive]) {
          thrown = await discardNewKey(this.infra.o.se, this.infra.o.registry, { stream, handle, purpose: 'session' }, this.infra.o.engine.clock.now(), thrown);
        }
        throw thrown;
      }
    })();
    try {
      await recordAssociation(this.infra, args.associationId, registrarOutcome);
    } catch (error) {
      // Refused (the association was revoked or established meanwhile): neither end keeps the session keys.
      for (const handle of [registreeOutcome.sessionKeys.send, registreeOutcome.sessionKeys.receive]) await args.device.se.destroy(handle);
      throw error;
    }
    return { registree: registreeOutcome as AssociationOutcome, registrar: registrarOutcome };
  }

  /**
   * Rotation (HLR-212, RS-16): a successor provisioned remotely and linked to its predecessor, an overlap window,
   * and the dependent associations re-established on the successor. At the end of the overlap the expiry
   * scheduler revokes the predecessor as superseded, and the cascade ends its old associations.
   */
  async rotate(args: {
    device: Device; credentialId: string; successorId: string; kind: CredentialKind; overlapSeconds: number;
    associations: readonly { associationId: string; successorAssociationId: string; lifetimeSeconds: number }[];
  }) {
    await this.provisionRemotely({ device: args.device, credentialId: args.successorId, kind: args.kind, predecessorId: args.credentialId });
    const overlapEndsAt = new Date(this.infra.o.engine.clock.now().getTime() + args.overlapSeconds * 1000).toISOString();
    await this.infra.run('startCredentialRotation', { credentialId: args.credentialId, successorId: args.successorId, overlapEndsAt });
    const reassociated = [];
    for (const a of args.associations) {
      const old = await this.infra.o.engine.entity('association', a.associationId);
      const registree = (old.snapshot.context as { registree?: RegistreeRef }).registree;
      reassociated.push(
        await this.associate({
          device: args.device, associationId: a.successorAssociationId, credentialId: args.successorId, lifetimeSeconds: a.lifetimeSeconds,
          ...(registree !== undefined ? { registree } : {}),
        }),
      );
    }
    return { overlapEndsAt, reassociated };
  }
}
