import { command } from '../../../domain/commands/index.ts';
import { protocolError, validationError } from '../../../domain/errors.ts';
import { toBase64url } from '../../../domain/crypto/index.ts';
import type { Actor } from '../../../domain/metadata.ts';
import { parseStreamId, streamIdOf } from '../../../domain/streams.ts';
import { viewOf, type AssociationContext, type CredentialContext } from '../../../machines/index.ts';
import type { ApplicationContext } from '../../../machines/contexts.ts';
import { bootstrapUsableFor, credentialUsableAt, registreeApplicationCredentialStands, registreeApplicationEnrolled, registreeHeldByNode } from '../../../machines/guards.ts';
import { isWithin } from '../../../machines/types.ts';
import type { Engine } from '../../engine/index.ts';
import type { RandomSource } from '../../../domain/ports/random.ts';
import { EnrolmentFunction, type CertificateIssuance } from '../enrolment/index.ts';
import { Registrar } from '../association/index.ts';
import { type AssociationOutcome } from '../../../domain/protocols/index.ts';
import { type ReplayCache } from '../../../domain/ports/index.ts';
import { type OwnedSecureEnvironment } from '../../../domain/ports/index.ts';
import { type KeyHandle } from '../../../domain/ports/index.ts';
import type { TrustAnchors } from '../../../domain/x509/chain.ts';
import { descriptorOf, isWithdrawn } from './descriptors.ts';
import { discardNewKey } from './discard-new-key.ts';
import type { KeyRegistry } from './key-registry.ts';
import { admitProvisioningRun, servedUnderSubscription } from './run-admission.ts';
import { destroyOrOwe } from './shredder.ts';
import type { PinnedResponder } from './wire.ts';

export interface InfrastructureOptions {
  readonly engine: Engine;
  /**
   * The Secure Environment as the M2M Enrolment and Authentication Functions' owner sees it (they share
   * provisioned PSKs, 11.2.1); bound by the composition root, e.g. `ownerView(se, 'maf:infrastructure')`.
   */
  readonly se: OwnedSecureEnvironment;
  readonly registry: KeyRegistry;
  readonly random: RandomSource;
  readonly replayCache: ReplayCache;
  /** The operator the recorded commands are attributed to. */
  readonly actor: Actor;
  readonly enrolmentFunctionId?: string;
  /** The Registrar CSE-ID Registrees are configured with (11.3.1). */
  readonly registrarCseId?: string;
  readonly trustAnchors?: TrustAnchors;
  readonly credentialLifetimeSeconds?: number;
  readonly signingKind?: 'ed25519' | 'p256';
  /** Operational certificates from nodes' CSRs (issue 13): the issuing CAs and the service's public URL. */
  readonly certificates?: CertificateIssuance;
  /** Authenticated runs one device may begin per replay window, at each responder (default 32). */
  readonly runsPerInitiator?: number;
}

const INFRA = 'infrastructure';

/**
 * The event that makes a pending key binding its entity's, by purpose: a PSK copy once the credential is provisioned,
 * the Registrar's session keys once the association is established.
 */
const CONFIRMED_BY: Readonly<Record<string, string>> = { psk: 'CredentialProvisioned', session: 'AssociationEstablished' };

/**
 * The infrastructure ends of the security procedures over the engine: the M2M Enrolment Function (remote
 * provisioning, seed 003 11.2.1) and the Registrar CSE (association handshake, 11.3). Their view of credentials is
 * the engine's: a bootstrap or service credential is known, and usable, exactly as its machine says.
 */
export class Infrastructure {
  /** The Secure Environment owner this infrastructure acts as (its view's, read-only). */
  readonly owner: string;
  readonly enrolmentFunctionId: string;
  readonly registrarCseId: string;
  readonly enrolmentFunction: EnrolmentFunction;
  readonly registrar: Registrar;
  /** Registree id -> credential being associated: the Registrar finds the credential the handshake claims. */
  readonly #pending = new Map<string, string>();

  private constructor(
    readonly o: InfrastructureOptions,
    readonly signing: { kind: 'ed25519' | 'p256'; ef: KeyHandle; registrar: KeyHandle; efPublicKey: Uint8Array; registrarPublicKey: Uint8Array },
  ) {
    this.owner = o.se.owner;
    this.enrolmentFunctionId = o.enrolmentFunctionId ?? 'MEF-1';
    this.registrarCseId = o.registrarCseId ?? '/in-cse';
    const now = () => o.engine.clock.now();
    this.enrolmentFunction = new EnrolmentFunction({
      id: this.enrolmentFunctionId,
      se: o.se,
      now,
      random: o.random,
      replayCache: o.replayCache,
      resolveBootstrap: (nodeId) => this.#bootstrapOf(nodeId),
      signingKey: { kind: signing.kind, handle: signing.ef },
      credentialLifetimeSeconds: o.credentialLifetimeSeconds ?? 365 * 24 * 3600,
      serviceParameters: async (nodeId) => {
        const node = await o.engine.entity('node', nodeId);
        const { cseId, subscriptionId } = node.snapshot.context as { cseId?: string; subscriptionId?: string };
        return { ...(cseId ? { cseId } : {}), ...(subscriptionId ? { m2mSubId: subscriptionId } : {}) };
      },
      ...(o.trustAnchors !== undefined ? { trustAnchors: o.trustAnchors } : {}),
      ...(o.certificates !== undefined ? { certificates: o.certificates } : {}),
      ...(o.runsPerInitiator !== undefined ? { runsPerInitiator: o.runsPerInitiator } : {}),
      admitAuthenticatedRun: ({ hello, context }) =>
        admitProvisioningRun(o.engine, { nodeId: hello.nodeId, credentialId: hello.credentialId, predecessorId: context['predecessorId'] }),
    });
    this.registrar = new Registrar({
      id: this.registrarCseId,
      se: o.se,
      now,
      random: o.random,
      replayCache: o.replayCache,
      resolveCredential: (registreeId, fingerprint) => this.#credentialFor(registreeId, fingerprint),
      signingKey: { kind: signing.kind, handle: signing.registrar },
      ...(o.runsPerInitiator !== undefined ? { runsPerInitiator: o.runsPerInitiator } : {}),
    });
  }

  /**
   * Opens the infrastructure, reusing its signing keys from earlier runs (devices pin their public keys), after
   * sweeping the keys of runs that died with the last process (`sweepPendingKeys`).
   */
  static async open(o: InfrastructureOptions): Promise<Infrastructure> {
    await Infrastructure.sweepPendingKeys(o);
    const kind = o.signingKind ?? 'ed25519';
    const key = async (purpose: string): Promise<KeyHandle> => {
      const [existing] = o.registry.live(INFRA, purpose);
      if (existing !== undefined) return existing as KeyHandle;
      const handle = await o.se.generate(kind, { usage: 'sign' });
      try {
        o.registry.register(INFRA, handle, purpose);
      } catch (error) {
        // Unbound, the next start would make another: this one is destroyed, or owed (review 53).
        throw await discardNewKey(o.se, o.registry, { stream: INFRA, handle, purpose }, o.engine.clock.now(), error);
      }
      return handle;
    };
    const ef = await key('ef-signing');
    const registrar = await key('registrar-signing');
    const pub = async (h: KeyHandle) => (await o.se.describe(h)).publicKey!;
    return new Infrastructure(o, { kind, ef, registrar, efPublicKey: await pub(ef), registrarPublicKey: await pub(registrar) });
  }

  /**
   * On start: a key binding still pending belongs to a run of an earlier process that cannot complete any more
   * (its session, in memory, is gone). Its key is destroyed, unless the engine did record the event that makes it
   * the entity's (the process died between that append and the confirmation): then the binding is confirmed.
   */
  static async sweepPendingKeys(o: InfrastructureOptions): Promise<void> {
    for (const binding of o.registry.pending()) {
      const ref = parseStreamId(binding.stream);
      const confirmedBy = CONFIRMED_BY[binding.purpose];
      const entity = ref === undefined ? undefined : await o.engine.entity(ref.kind, ref.id);
      if (confirmedBy !== undefined && entity?.events.some((e) => e.event.type === confirmedBy)) {
        o.registry.confirm(binding.stream, binding.handle);
        continue;
      }
      // One the Secure Environment refuses is owed, not a start that fails: the shredder retries it.
      await destroyOrOwe(o.se, o.registry, binding.stream, binding.handle, o.engine.clock.now());
    }
  }

  /**
   * What a hello looks up is read with `engine.peek`, here and in `#credentialById`, `credentialOfAssociation` and
   * `credentialConfiguredFor`: before any proof, whether an id exists or what became of it must not move the entity
   * cache's public gauges (review 33: an unknown node added one entry, a revoked one two of another size).
   */
  async #bootstrapOf(nodeId: string) {
    const node = await this.o.engine.peek('node', nodeId);
    const bootstrapId = (node.snapshot.context as { bootstrapCredentialId?: string }).bootstrapCredentialId;
    if (bootstrapId === undefined) return undefined;
    const credential = await this.o.engine.peek('credential', bootstrapId);
    const descriptor = descriptorOf(credential);
    if (descriptor === undefined) return undefined;
    const [handle] = this.o.registry.live(credential.streamId, 'psk');
    // Whether it may authenticate a provisioning is the credential machine's own rule (bootstrapIsUsable, seed 003
    // 11.2.1; HLR-212), at the engine's instant, so the hello refuses exactly what the record would: usable
    // (credentialUsableAt: provisioned, not ended, inside [notBefore, notAfter), not a rotation's predecessor past its
    // overlap) and the node's own (the guard's same owner: what is provisioned is the hello's node's). Left from
    // review 26: the hello read the state by a rule of its own (isWithdrawn), so a bootstrap issued but never
    // provisioned, handed over to its successor, or another node's ran to the receipt and was refused there (409).
    const at = this.o.engine.clock.now().getTime();
    const context = credential.snapshot.context as CredentialContext;
    const usable = bootstrapUsableFor(viewOf(credential.snapshot), { kind: 'node', id: nodeId }, at);
    // A revoked node's bootstrap is known and revoked, not unknown: the hello's manufacturer chain is then checked
    // against its recorded certificate as for any node (found in review: checked against none, a revoked node's
    // answer differed from a usable one's before any proof), and its holder is told why at the auth.
    // Refused when the rule refuses it or the node is revoked: inside its window by this flag, outside it by the
    // descriptor's window, which the protocol names to the holder at the auth (credential_expired,
    // credential_not_yet_valid; decoy.ts); a bootstrap or node ended on record is told revoked wherever, as before.
    const revoked = isWithdrawn(credential) || String(node.snapshot.value) === 'revoked' || (!usable && isWithin(at, context));
    return { descriptor, ...(handle !== undefined ? { handle: handle as KeyHandle } : {}), ...(revoked ? { revoked: true } : {}) };
  }

  async #credentialFor(registreeId: string, fingerprint: string) {
    const credentialId = this.#pending.get(registreeId);
    return credentialId === undefined ? undefined : this.#credentialById(credentialId, fingerprint);
  }

  async #credentialById(credentialId: string, fingerprint: string) {
    const credential = await this.o.engine.peek('credential', credentialId);
    if ((credential.snapshot.context as CredentialContext).fingerprint !== fingerprint) return undefined;
    const descriptor = descriptorOf(credential);
    if (descriptor === undefined) return undefined;
    const [handle] = this.o.registry.live(credential.streamId, 'psk');
    // Whether it may associate is the association machine's own rule (credentialUsable: seed 003 11.2.2 and 11.3.2;
    // HLR-212), at the engine's instant, so the hello refuses exactly what the record would: found in review, the
    // hello checked the state alone (and the descriptor's window), and a predecessor whose rotation overlap had ended
    // ran its handshake to the finish, refused only when recorded (409), the expiry scheduler not having revoked it.
    const at = this.o.engine.clock.now().getTime();
    const usable = credentialUsableAt(viewOf(credential.snapshot), at);
    // Only what its holder is told at the finish (decoy.ts), never whether: outside its validity window the protocol
    // names that from the descriptor (credential_expired, credential_not_yet_valid); inside it, the rule refused a
    // credential its lifecycle ended or handed over to its successor, told as revoked.
    const revoked = !usable && isWithin(at, credential.snapshot.context as CredentialContext);
    return { descriptor, ...(handle !== undefined ? { handle: handle as KeyHandle } : {}), ...(revoked ? { revoked: true } : {}) };
  }

  /**
   * The credential an association configured by an operator (11.3.1) authenticates with, read from the engine on
   * every call (nothing is kept between requests): known only while the association waits for its handshake, is
   * configured with this Registrar CSE and names `registreeId` as its Registree, and that Registree may still
   * associate as the association machine will decide at establishment (its rules, machines/guards.ts).
   */
  async credentialOfAssociation(associationId: string, registreeId: string, fingerprint: string) {
    const association = await this.o.engine.peek('association', associationId);
    const c = association.snapshot.context as AssociationContext;
    if (String(association.snapshot.value) !== 'initialized' || c.credentialId === undefined) return undefined;
    if (c.registree === undefined || c.registree.id !== registreeId || c.registrarCseId !== this.registrarCseId) return undefined;
    // No handshake for a node whose subscription ended while the cascade has not ended its enrolment yet (seed 003,
    // 11.2.1; found in review): unknown to the Registrar, as an association that is not waiting is.
    if (c.nodeId === undefined || (await servedUnderSubscription(this.o.engine, c.nodeId, (kind, id) => this.o.engine.peek(kind, id))) !== 'served') return undefined;
    // RS-01 (credentialBelongsToRegistree): a CSE Registree is the CSE-ID its node holds now, not the one it held at
    // configuration; a CSE-ID moved to another node is that node's (found in review: a renumbered node completed a
    // handshake under its old CSE-ID, since given to another node).
    const node = await this.o.engine.peek('node', c.nodeId);
    if (!registreeHeldByNode(viewOf(node.snapshot), c.registree)) return undefined;
    // Seed 003, 11.2.2 (applicationEnrolled): an AE's App-ID still enrolled (found in review: a handshake completed for
    // an App-ID the operator had revoked, the cascade not having revoked the association yet).
    if (c.registree.kind === 'ae') {
      const application = viewOf((await this.o.engine.peek('application', c.registree.appId)).snapshot);
      if (!registreeApplicationEnrolled(application, c.registree)) return undefined;
      // And the credential it is enrolled with stands now (applicationCredentialStands, 11.2.2): found in review 26, a
      // handshake under an App-ID whose credential had passed its notAfter ran to its finish, refused only there.
      const enrolledWith = (application.context as unknown as ApplicationContext | undefined)?.credentialId;
      const credential = enrolledWith === undefined ? undefined : viewOf((await this.o.engine.peek('credential', enrolledWith)).snapshot);
      if (!registreeApplicationCredentialStands(application, credential, c.registree, this.o.engine.clock.now().getTime())) return undefined;
    }
    return this.#credentialById(c.credentialId, fingerprint);
  }

  /**
   * The credential association `associationId` was configured with for this Registree and Registrar CSE, whatever
   * the state of the association, its node or the credential: never to run a handshake with, only to check the proof
   * of a decoy run (adapters/protocols/shared/decoy.ts), so that the holder of a credential that ended is told why.
   */
  async credentialConfiguredFor(associationId: string, registreeId: string, fingerprint: string) {
    const c = (await this.o.engine.peek('association', associationId)).snapshot.context as AssociationContext;
    if (c.credentialId === undefined || c.registree?.id !== registreeId || c.registrarCseId !== this.registrarCseId) return undefined;
    return this.#credentialById(c.credentialId, fingerprint);
  }

  /** What a device pins to authenticate the Enrolment Function (at the factory) or the Registrar CSE (11.3.1). */
  async pinned(responder: 'enrolment-function' | 'registrar'): Promise<PinnedResponder> {
    const { kind } = this.signing;
    const [id, handle, publicKey] =
      responder === 'registrar'
        ? [this.registrarCseId, this.signing.registrar, this.signing.registrarPublicKey]
        : [this.enrolmentFunctionId, this.signing.ef, this.signing.efPublicKey];
    const { fingerprint } = await this.o.se.describe(handle);
    return { id, publicKey: { kind, publicKey: toBase64url(publicKey) }, fingerprint };
  }

  /** The bootstrap credential a node was registered with at the factory. */
  async bootstrapIdOf(nodeId: string): Promise<string | undefined> {
    const node = await this.o.engine.entity('node', nodeId);
    return (node.snapshot.context as { bootstrapCredentialId?: string }).bootstrapCredentialId;
  }

  /**
   * Keeps the Enrolment Function's handle of a provisioned PSK, for the Registrar and for shredding: pending until
   * the engine records the credential as provisioned (`confirmPsk`), swept at the next start if it never does.
   */
  keepPsk(credentialId: string, handle: KeyHandle | undefined): void {
    if (handle !== undefined) this.o.registry.register(streamIdOf('credential', credentialId), handle, 'psk', { pending: true });
  }

  /** The credential whose PSK copy `keepPsk` kept is recorded as provisioned: the copy is its own for good. */
  confirmPsk(credentialId: string, handle: KeyHandle | undefined): void {
    if (handle !== undefined) this.o.registry.confirm(streamIdOf('credential', credentialId), handle);
  }

  /** Runs `handshake` with the Registrar as the authenticator of `credentialId` for `registreeId`. */
  async asRegistrarFor<T>(registreeId: string, credentialId: string, handshake: () => Promise<T>): Promise<T> {
    if (this.#pending.has(registreeId)) throw protocolError('association.hello', `a handshake for ${registreeId} is already running`);
    this.#pending.set(registreeId, credentialId);
    try {
      return await handshake();
    } finally {
      this.#pending.delete(registreeId);
    }
  }

  /**
   * Destroys one key this run made for an entity (never the entity's other keys) and marks it in the registry. Already
   * gone is the goal state: the shredder may have destroyed it first, when what ended the run was a revocation.
   */
  async discardKey(stream: string, handle: KeyHandle): Promise<void> {
    // A refusal of the Secure Environment is owed (the shredder retries it), not the error the run ends with.
    await destroyOrOwe(this.o.se, this.o.registry, stream, handle, this.o.engine.clock.now());
  }

  /**
   * Refuses up front an id already in use, before any key is made for it: for the in-process procedures an operator
   * runs (the refusal names the id). A device's ids are checked only once it has authenticated (`admitProvisioningRun`).
   */
  async assertUnused(kind: 'node' | 'credential' | 'association', id: string): Promise<void> {
    if ((await this.o.engine.entity(kind, id)).events.length > 0) {
      throw validationError([{ path: `${kind}Id`, rule: 'unused', message: `${kind} ${id} already exists` }], 'procedure');
    }
  }

  /**
   * Keeps the Registrar's two session keys of an association (one per direction), for shredding: pending until the
   * engine records the association as established (`confirmSessionKeys`), swept at the next start if it never does.
   */
  keepSessionKeys(associationId: string, outcome: AssociationOutcome): void {
    const stream = streamIdOf('association', associationId);
    for (const handle of [outcome.sessionKeys.send, outcome.sessionKeys.receive]) this.o.registry.register(stream, handle, 'session', { pending: true });
  }

  /**
   * The association whose session keys `keepSessionKeys` kept is recorded as established: the keys are its own. An
   * association is established once, by this run: session keys another run left pending for it (its append's outcome
   * unknown, the Registree's retry recorded instead) are not its keys, and are destroyed now rather than confirmed by
   * the next start's sweep, which sees only that the association was established.
   */
  async confirmSessionKeys(associationId: string, outcome: AssociationOutcome): Promise<void> {
    const stream = streamIdOf('association', associationId);
    const own = [outcome.sessionKeys.send, outcome.sessionKeys.receive];
    for (const handle of own) this.o.registry.confirm(stream, handle);
    for (const stale of this.o.registry.pending()) {
      if (stale.stream === stream && stale.purpose === 'session' && !own.includes(stale.handle as KeyHandle)) await this.discardKey(stream, stale.handle as KeyHandle);
    }
  }

  run(type: Parameters<typeof command>[0], data: Record<string, unknown>, correlationId?: string) {
    return this.o.engine.execute(command(type, data, { actor: this.o.actor, ...(correlationId ? { correlationId } : {}) }));
  }
}
