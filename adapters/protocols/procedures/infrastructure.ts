import { keyHolderIn } from '../../../domain/certified-keys.ts';
import { command } from '../../../domain/commands/index.ts';
import { validationError } from '../../../domain/errors.ts';
import { toBase64url } from '../../../domain/crypto/index.ts';
import { streamIdOf } from '../../../domain/streams.ts';
import { EnrolmentFunction } from '../enrolment/index.ts';
import { Registrar, type RegistrarScope } from '../association/index.ts';
import { type AssociationOutcome } from '../../../domain/protocols/index.ts';
import { type KeyHandle } from '../../../domain/ports/index.ts';
import { bootstrapOf } from './bootstrap-lookup.ts';
import { DEFAULT_CREDENTIAL_LIFETIME_SECONDS, type InfrastructureOptions } from './infrastructure-options.ts';
import { admitProvisioningRun, credentialIdInFlight, credentialIdTaken } from './run-admission.ts';
import { CredentialIdsInFlight } from './credential-ids-in-flight.ts';
import { associationClosedFor, credentialConfiguredFor, credentialOfAssociation } from './registrar-credentials.ts';
import { ENROLMENT_SESSION_TIMEOUT_SECONDS } from './cut-provisioning.ts';
import { executeForDevice } from './infrastructure-command.ts';
import { destroyOrOwe } from './shredder.ts';
import { openSigningKeys, type SigningKeys } from './signing-keys.ts';
import { sweepPendingKeys } from './sweep-pending-keys.ts';
import type { PinnedResponder } from './wire.ts';

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
  /** Credential ids claimed by authenticated provisioning runs not yet settled (credential-ids-in-flight.ts). */
  readonly #claimed = new CredentialIdsInFlight();

  private constructor(
    readonly o: InfrastructureOptions,
    readonly signing: SigningKeys,
  ) {
    this.owner = o.se.owner;
    this.enrolmentFunctionId = o.enrolmentFunctionId ?? 'MEF-1';
    this.registrarCseId = o.registrarCseId ?? '/in-cse';
    const now = () => o.engine.clock.now();
    this.enrolmentFunction = new EnrolmentFunction({
      id: this.enrolmentFunctionId,
      se: signing.se,
      now,
      random: o.random,
      replayCache: o.replayCache,
      resolveBootstrap: (nodeId) => bootstrapOf(o, nodeId),
      signingKey: { kind: signing.kind, handle: signing.ef },
      credentialLifetimeSeconds: o.credentialLifetimeSeconds ?? DEFAULT_CREDENTIAL_LIFETIME_SECONDS,
      // The start sweep's measure of a run over (cut-provisioning.ts).
      sessionTimeoutSeconds: ENROLMENT_SESSION_TIMEOUT_SECONDS,
      serviceParameters: async (nodeId) => {
        const node = await o.engine.entity('node', nodeId);
        const { cseId, subscriptionId } = node.snapshot.context as { cseId?: string; subscriptionId?: string };
        return { ...(cseId ? { cseId } : {}), ...(subscriptionId ? { m2mSubId: subscriptionId } : {}) };
      },
      subscriptionEndsAt: async (nodeId) => {
        const { subscriptionId } = (await o.engine.entity('node', nodeId)).snapshot.context as { subscriptionId?: string };
        if (subscriptionId === undefined) return undefined;
        const { notAfter } = (await o.engine.entity('subscription', subscriptionId)).snapshot.context as { notAfter?: number };
        return notAfter === undefined ? undefined : new Date(notAfter).toISOString();
      },
      // Read as recorded: admitProvisioningRun has checked, before this is asked, that it is a live credential of the node.
      predecessorFingerprint: async (credentialId) =>
        ((await o.engine.entity('credential', credentialId)).snapshot.context as { fingerprint?: string }).fingerprint,
      // One read of the store's index of certified keys (SER-010).
      keyCertified: async (fingerprint) => (await keyHolderIn(o.engine.store)(fingerprint)) !== undefined,
      ...(o.trustAnchors !== undefined ? { trustAnchors: o.trustAnchors } : {}),
      ...(o.certificates !== undefined ? { certificates: o.certificates } : {}),
      ...(o.runsPerInitiator !== undefined ? { runsPerInitiator: o.runsPerInitiator } : {}),
      ...(o.maxSessions !== undefined ? { maxSessions: o.maxSessions } : {}),
      admitAuthenticatedRun: async ({ sessionId, hello, context }) => {
        await admitProvisioningRun(o.engine, { nodeId: hello.nodeId, credentialId: hello.credentialId, predecessorId: context['predecessorId'] });
        if (hello.credentialId !== undefined) await this.#claimCredentialId(hello.credentialId, sessionId, JSON.stringify([hello.nodeId, hello.bootstrap.fingerprint]));
      },
      // A run whose receipt was accepted keeps its claim until its outcome is recorded (`settleCredentialId`).
      runEnded: ({ sessionId, hello, receiptAccepted }) => {
        if (hello.credentialId === undefined) return;
        if (receiptAccepted) this.#claimed.recording(hello.credentialId, sessionId);
        else this.#claimed.release(hello.credentialId, sessionId);
      },
    });
    this.registrar = new Registrar({
      id: this.registrarCseId,
      se: signing.se,
      now,
      random: o.random,
      replayCache: o.replayCache,
      // Every handshake this Registrar runs is for one configured association (`registrarScope`), over a connection
      // or in process: a hello naming none knows no credential, and gets a decoy challenge. Review 249's follow-up:
      // the in-process one looked its credential up by id alone, outside the association, so none of the
      // association's rules ran at its hello, and a handshake they refuse ran to its finish, refused only when recorded.
      resolveCredential: async () => undefined,
      signingKey: { kind: signing.kind, handle: signing.registrar },
      ...(o.runsPerInitiator !== undefined ? { runsPerInitiator: o.runsPerInitiator } : {}),
      ...(o.maxSessions !== undefined ? { maxSessions: o.maxSessions } : {}),
    });
  }

  /**
   * Opens the infrastructure, reusing its signing keys from earlier runs (devices pin their public keys), after
   * sweeping the keys of runs that died with the last process (`sweepPendingKeys`).
   */
  static async open(o: InfrastructureOptions): Promise<Infrastructure> {
    await Infrastructure.sweepPendingKeys(o);
    return new Infrastructure(o, await openSigningKeys(o));
  }

  /**
   * Ends the Enrolment Function's and the Registrar's runs whose session timeout has passed, with their keys (an
   * ephemeral private key, a delivered PSK's copy and its delivery key), at the tick after their expiry rather than
   * at the next message; how many. Run by `Credence.tick` and the live runtime's tick. A key pair's run cut by an
   * earlier process and not yet over at this start (a restart within its session timeout) is ended here once it is
   * over (cut-provisioning.ts), rather than at some later start; so is a PSK's, by its pending copy, whichever process
   * cut it (its second append's outcome unknown, review 400 F2): both as the start's sweep does (sweep-pending-keys.ts).
   */
  async sweepExpiredRuns(): Promise<number> {
    const ended = (await this.enrolmentFunction.sweepExpired()) + (await this.registrar.sweepExpired());
    await sweepPendingKeys(this.o, 'beside_live_runs');
    return ended;
  }

  /** On start: the keys of runs an earlier process left pending are confirmed or destroyed (sweep-pending-keys.ts). */
  static async sweepPendingKeys(o: InfrastructureOptions): Promise<void> {
    await sweepPendingKeys(o);
  }

  /**
   * Claims `credentialId` for the admitted run of `sessionId` by `node`, or refuses it as an id in use (review 138).
   * The run holding it may be one whose session timed out that no tick has ended yet: the expired runs are ended
   * first (their claims with them, `runEnded`), never one being stepped, whose step decides. An earlier run of the same
   * node whose receipt was not accepted is ended as a refused run is, its keys with it, and this one admitted
   * (review 140: a device retrying after losing the delivery was refused until that run timed out, and the advice to
   * choose another id abandoned a good one); the same node's run recording its receipt, or handling a message, is told
   * apart as retryable. Another node's run is never ended, and it is refused as an id in use is.
   */
  async #claimCredentialId(credentialId: string, sessionId: string, node: string): Promise<void> {
    if (this.#claimed.claim(credentialId, sessionId, node) === true) return;
    await this.enrolmentFunction.sweepExpired();
    const holder = this.#claimed.claim(credentialId, sessionId, node);
    if (holder === true) return;
    if (holder.node !== node) throw credentialIdTaken();
    if (holder.recording || !(await this.enrolmentFunction.endRun(holder.sessionId))) throw credentialIdInFlight();
    // Another run may have claimed it while the ended one's keys were destroyed.
    const after = this.#claimed.claim(credentialId, sessionId, node);
    if (after !== true) throw after.node === node ? credentialIdInFlight() : credentialIdTaken();
  }

  /** The run of `sessionId`, its receipt accepted, has recorded its outcome or failed to: its claim on `credentialId` goes. */
  settleCredentialId(credentialId: string, sessionId: string): void {
    this.#claimed.release(credentialId, sessionId);
  }

  /**
   * What a handshake for association `associationId` is resolved against, the one lookup of both paths: over a
   * connection (RegistrarEndpoint) and in process (SecurityProcedures.establish). Its credential, known only while the
   * association's rules let it be run (registrar-credentials.ts); the credential it was configured with, for a decoy
   * run's proof; and why it takes no handshake, told only to a Registree whose proof verified.
   */
  registrarScope(associationId: string): RegistrarScope {
    return {
      association: associationId,
      resolveCredential: (registreeId, fingerprint) => this.credentialOfAssociation(associationId, registreeId, fingerprint),
      knownCredential: (registreeId, fingerprint) => this.credentialConfiguredFor(associationId, registreeId, fingerprint),
      // Asked only past the holder's proof, to tell it why the association takes no handshake (registrar-still-usable.ts).
      closedBecause: (registreeId) => associationClosedFor(this.o, this.registrarCseId, associationId, registreeId),
    };
  }

  /** The credential a waiting association's handshake authenticates with (registrar-credentials.ts). */
  async credentialOfAssociation(associationId: string, registreeId: string, fingerprint: string) {
    return credentialOfAssociation(this.o, this.registrarCseId, associationId, registreeId, fingerprint);
  }

  /** The credential an association was configured with, only to check a decoy run's proof (registrar-credentials.ts). */
  async credentialConfiguredFor(associationId: string, registreeId: string, fingerprint: string) {
    return credentialConfiguredFor(this.o, this.registrarCseId, associationId, registreeId, fingerprint);
  }

  /** What a device pins to authenticate the Enrolment Function (at the factory) or the Registrar CSE (11.3.1). */
  async pinned(responder: 'enrolment-function' | 'registrar'): Promise<PinnedResponder> {
    const { kind } = this.signing;
    const [id, handle, publicKey] =
      responder === 'registrar'
        ? [this.registrarCseId, this.signing.registrar, this.signing.registrarPublicKey]
        : [this.enrolmentFunctionId, this.signing.ef, this.signing.efPublicKey];
    const { fingerprint } = await this.signing.se.describe(handle);
    return { id, publicKey: { kind, publicKey: toBase64url(publicKey) }, fingerprint };
  }

  /** The bootstrap credential a node was registered with at the factory. */
  async bootstrapIdOf(nodeId: string): Promise<string | undefined> {
    const node = await this.o.engine.entity('node', nodeId);
    return (node.snapshot.context as { bootstrapCredentialId?: string }).bootstrapCredentialId;
  }

  /**
   * Keeps the Enrolment Function's handle of a provisioned PSK, for the Registrar and for shredding: pending until
   * the engine records the credential as provisioned (`confirmPsk`), swept at the next start if it never does, or at
   * a tick once its run is over (`sweepExpiredRuns`).
   */
  keepPsk(credentialId: string, handle: KeyHandle | undefined): void {
    if (handle !== undefined) this.o.registry.register(streamIdOf('credential', credentialId), handle, 'psk', { pending: true });
  }

  /** The credential whose PSK copy `keepPsk` kept is recorded as provisioned: the copy is its own for good. */
  confirmPsk(credentialId: string, handle: KeyHandle | undefined): void {
    if (handle !== undefined) this.o.registry.confirm(streamIdOf('credential', credentialId), handle);
  }

  /**
   * Records that a key pair's provisioning of `credentialId` is recording its receipt, for the next start to find it
   * should the process die between its two appends (`sweepCutKeyPairRuns`): no key of it is kept here to find it by.
   * A PSK's run needs none: its pending copy (`keepPsk`) is that record. Whether this call wrote the record: only the
   * run that did ends it (`KeyRegistry.beginKeyPairRun`).
   */
  beginKeyPairRun(credentialId: string, handle: KeyHandle | undefined): boolean {
    return handle === undefined && this.o.registry.beginKeyPairRun(credentialId, this.o.engine.clock.now());
  }

  /** The key pair's run `beginKeyPairRun` recorded has its outcome recorded: nothing is left for a start to end. */
  endKeyPairRun(credentialId: string, handle: KeyHandle | undefined): void {
    if (handle === undefined) this.o.registry.endKeyPairRun(credentialId);
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
    return executeForDevice(this.o.engine, command(type, data, { actor: this.o.actor, ...(correlationId ? { correlationId } : {}) }));
  }
}
