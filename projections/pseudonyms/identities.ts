import type { DomainEvent } from '../../domain/events/index.ts';
import { AppCredentials } from './app-credentials.ts';
import type { IdentifierKind, PseudonymDeriver } from './derive.ts';
import { CredentialOwners } from './credential-owners.ts';
import { CseOwners } from './cse-owners.ts';
import { fillFold, fillFoldPausing, type CopyStep } from './fold-copy.ts';
import { HOLDER, HeldAssociations } from './held-associations.ts';
import { INFRASTRUCTURE_REGISTRAR_CSE_ID, type NamedUnder } from './named-under.ts';
import { NodeHistory } from './node-history.ts';
import type { PublicIdentitiesSize } from './public-identities-size.ts';
import { RaisableRevocations } from './raisable-revocations.ts';

// public-data.ts names it from here.
export type { NamedUnder } from './named-under.ts';

/**
 * Who owns each identifier, and each node's current epoch, folded from events in global order. An identifier
 * that belongs to a node is pseudonymised under that node's epoch, with the node itself in the derivation, so when
 * the node rotates, its CSE-ID, AE-IDs, credentials and associations all change pseudonym with it and nothing links
 * the epochs, and one identifier under two nodes never shares a pseudonym. Identifiers that belong to no node
 * (subscriptions, an infrastructure Registrar CSE, an application's credential) keep one stable pseudonym.
 *
 * Bounded by the live fleet (SER-001): an association is let go once it ended and every holder it was recorded on
 * released it (or ended), and a credential once it ended, no kept association names it and no rotation to it stands
 * (review 45: a live node's ended credentials used to stay), and no raise of its revocation's reason may come (review
 * 210: one revoked for another reason than keyCompromise stays until its raise or its notAfter's day,
 * ./raisable-revocations.ts). What stays for every node ever seen: its epoch, whether it ended, and the CSE-IDs it let
 * go until another node claims them (a registrar CSE may be named by others' associations after it ended).
 */
export class PublicIdentities {
  /** Each node's epoch, whether it ended, and its enrolment (./node-history.ts). */
  readonly #nodes = new NodeHistory();
  /** CSE-IDs and credentials: the node each belongs to. */
  readonly #owner: { readonly cse: CseOwners; readonly credential: CredentialOwners } = { cse: new CseOwners(), credential: new CredentialOwners() };
  /** Associations while a frame may still name them (./held-associations.ts). */
  readonly #associations = new HeldAssociations();
  /** App-IDs revoked: an association established after records nothing on them, so waits for no release of theirs. */
  readonly #endedApps = new Set<string>();
  /** The App-ID of each live App-ID or AE credential: a scoped stream's owner of its events that name no association. */
  readonly #apps = new AppCredentials();
  /** Credentials revoked for another reason than keyCompromise, kept (node, App-ID) for the raise they may take. */
  readonly #raisable = new RaisableRevocations();
  /**
   * Entries the last event made unreachable, let go when the next event is observed: the frame of the event that
   * ends them is made after `observe` and still names them.
   */
  #dropping: { readonly associations: string[]; readonly credentials: string[] } = { associations: [], credentials: [] };

  /** A copy that folds on without changing this one. */
  copy(): PublicIdentities {
    const into = new PublicIdentities();
    fillFold(this.#pairsWith(into));
    return into;
  }

  /**
   * The same copy, made a slice of entries at a time with `pause()` awaited between slices: a fleet's fold holds
   * hundreds of thousands of entries, and one synchronous copy of 200,000 nodes' held the event loop for a second
   * at every pseudonymised stream's open (found in review). This one must not change while it is copied.
   */
  async copyPausing(pause: () => Promise<unknown>, entriesPerSlice = 10_000): Promise<PublicIdentities> {
    const into = new PublicIdentities();
    await fillFoldPausing(this.#pairsWith(into), pause, entriesPerSlice);
    return into;
  }

  /** Each map and set of an empty fold `into` beside this one's, with how to copy a value; `into` takes the pending drops. */
  #pairsWith(into: PublicIdentities): CopyStep[] {
    into.#dropping = { associations: [...this.#dropping.associations], credentials: [...this.#dropping.credentials] };
    return [
      ...this.#associations.pairsWith(into.#associations),
      ...this.#nodes.pairsWith(into.#nodes),
      ...this.#owner.cse.pairsWith(into.#owner.cse),
      ...this.#owner.credential.pairsWith(into.#owner.credential),
      [into.#endedApps, this.#endedApps],
      ...this.#apps.pairsWith(into.#apps),
      ...this.#raisable.pairsWith(into.#raisable),
    ];
  }

  /**
   * Entry counts (read-only): of the fold once it lets go what the last event made unreachable (counted on a copy, so
   * as costly as one: for tests and diagnostics, not for a stream's path).
   */
  size(): PublicIdentitiesSize {
    const settled = this.copy();
    settled.#letGo();
    return settled.#count();
  }

  #count(): PublicIdentitiesSize {
    return {
      epochs: this.#nodes.epochs,
      cseIds: this.#owner.cse.size,
      credentials: this.#owner.credential.size,
      endedCredentials: this.#owner.credential.endedCount,
      awaitingCredentials: this.#owner.credential.awaiting + this.#owner.cse.waitingCredentials,
      associations: this.#associations.size,
      associationIndex: this.#associations.indexed,
      endedNodes: this.#nodes.endedCount,
      endedApps: this.#endedApps.size,
      released: this.#owner.cse.released,
      enrolments: this.#nodes.enrolments,
      appCredentials: this.#apps.size,
    };
  }

  /**
   * Folds one more event; `at` is its instant (ms, DecodedEvent.at), by which the credentials kept for a raise are let
   * go once their notAfter's day passed (without it, they stay until their raise).
   */
  observe(event: DomainEvent, at?: number): void {
    this.#letGo();
    this.#fold(event);
    // After the event: a raise on the day its notAfter's passed is still named under its node.
    for (const credentialId of this.#raisable.reached(at)) {
      this.#apps.ended(credentialId);
      this.#dropping.credentials.push(credentialId);
    }
  }

  #fold(event: DomainEvent): void {
    switch (event.type) {
      case 'NodeRegistered': {
        // Its bootstrap credential, issued after it, is named under it until then. Not one bound already (review 288):
        // a credential's own issue binds it to its owner's node, and a registration naming another node's (refused
        // since machines v11, bootstrapNotYetRecorded; stored by an earlier version) named it under this node's epochs.
        const credentialId = event.data.bootstrapCredentialId;
        if (credentialId !== undefined && this.#owner.credential.nodeOf(credentialId) === undefined) this.#owner.credential.bind(credentialId, event.data.nodeId);
        return;
      }
      case 'NodeEnrolled':
        this.#link(event.data.cseId, event.data.nodeId);
        // A move to another subscription (RS-17) ends the one before at once: this frame is the new one's.
        this.#nodes.enrolled(event.data.nodeId, event.data.subscriptionId);
        return;
      case 'NodeEnrolmentExpired':
      case 'NodeRevoked': {
        const { nodeId } = event.data;
        this.#release(nodeId);
        // It records no release any more: its associations wait for it no longer.
        this.#associations.holderEnded({ holder: HOLDER.node, id: nodeId }, this.#unreachable);
        return;
      }
      case 'CredentialIssued': {
        const { owner, credentialId } = event.data;
        this.#apps.issued(credentialId, owner);
        this.#raisable.issued(credentialId, event.data.notAfter);
        if (owner.kind === 'node') this.#owner.credential.bind(credentialId, owner.id);
        // A CSE-ID's credential that names its node (review 41) is that node's, whoever holds the CSE-ID later.
        else if (owner.kind === 'cse' && owner.nodeId !== undefined) this.#owner.credential.bind(credentialId, owner.nodeId);
        else if (owner.kind === 'ae') this.#owner.credential.issuedToAe(credentialId, event.data.predecessorId);
        else if (owner.kind === 'cse') {
          const node = this.#owner.cse.holderOf(owner.id);
          if (node !== undefined) this.#owner.credential.bind(credentialId, node);
          else this.#owner.cse.waitFor(owner.id, credentialId);
        }
        return;
      }
      case 'CredentialRotationStarted':
        this.#rotationEnded(event.data.credentialId);
        this.#owner.credential.rotationStarted(event.data.credentialId, event.data.successorId);
        return;
      case 'CredentialRotationAbandoned':
        this.#rotationEnded(event.data.credentialId);
        return;
      case 'CredentialExpired':
      case 'CredentialRevoked': {
        const { credentialId } = event.data;
        if (this.#raisable.has(credentialId)) {
          // Its raise to keyCompromise (machines v5): named and scoped as its first revocation was, then let go.
          this.#raisable.ended(credentialId, undefined);
          this.#apps.ended(credentialId);
          this.#dropping.credentials.push(credentialId);
          return;
        }
        // Revoked for another reason than keyCompromise: its raise may follow, named under its node and App-ID as this.
        const raisable = this.#raisable.ended(credentialId, event.type === 'CredentialRevoked' ? event.data.reason : undefined);
        // A rotation from it is over: its successor is named by nothing more of it.
        this.#rotationEnded(credentialId);
        // Never bound: nothing of a node to hide, and nothing will bind it now (no association is configured on an
        // ended credential).
        this.#owner.credential.stopAwaiting(credentialId);
        if (!raisable) this.#apps.ended(credentialId);
        this.#associations.holderEnded({ holder: HOLDER.credential, id: credentialId }, this.#unreachable);
        if (this.#owner.credential.ended(credentialId)) this.#dropping.credentials.push(credentialId);
        return;
      }
      case 'AssociationConfigured': {
        const { associationId, nodeId, registree, credentialId } = event.data;
        // An AE's credential is the node's that first configures an association with it.
        this.#owner.credential.bindAwaiting(credentialId, nodeId);
        const app = registree.kind === 'ae' ? registree.appId : undefined;
        this.#associations.configured(associationId, nodeId, credentialId, app);
        // An association stored after its node ended (a raced import) takes no identifier back from whoever has it.
        if (this.#nodes.hasEnded(nodeId) || registree.kind === 'ae') return;
        if (this.#owner.cse.claimable(registree.id)) this.#link(registree.id, nodeId);
        return;
      }
      case 'AssociationEstablished':
        // From now on the cascade records it on its credential, node and App-ID, and releases it from each once it
        // ends: each may name it until then, unless it ended already (then it records nothing more).
        this.#associations.established(event.data.associationId, (holder, id) =>
          holder === HOLDER.node ? this.#nodes.hasEnded(id) : holder === HOLDER.credential ? this.#owner.credential.hasEnded(id) : this.#endedApps.has(id),
        );
        return;
      case 'AssociationExpired':
      case 'AssociationRevoked':
        this.#associations.ended(event.data.associationId, this.#unreachable);
        return;
      case 'NodeAssociationReleased':
        return this.#associations.releasedBy(event.data.associationId, HOLDER.node, this.#unreachable);
      case 'CredentialAssociationReleased':
        return this.#associations.releasedBy(event.data.associationId, HOLDER.credential, this.#unreachable);
      case 'ApplicationInstanceReleased':
        return this.#associations.releasedBy(event.data.associationId, HOLDER.app, this.#unreachable);
      case 'ApplicationRevoked':
        this.#endedApps.add(event.data.appId);
        this.#associations.holderEnded({ holder: HOLDER.app, id: event.data.appId }, this.#unreachable);
        return;
      case 'PseudonymRotated':
        this.#nodes.rotated(event.data.nodeId, event.data.epoch, event.data.trigger === 'initial');
        return;
      default:
        return;
    }
  }

  /** The rotation from `predecessorId`, if one stands, is over: its successor may be let go after this event's frame. */
  #rotationEnded(predecessorId: string): void {
    const successorId = this.#owner.credential.rotationEnded(predecessorId);
    if (successorId !== undefined) this.#dropping.credentials.push(successorId);
  }

  /** An association no frame can name any more: let go once the current event's frame is made. */
  readonly #unreachable = (associationId: string): void => {
    this.#dropping.associations.push(associationId);
  };

  /** Lets go what the events before made unreachable. */
  #letGo(): void {
    this.#apps.letGo();
    const { associations, credentials } = this.#dropping;
    if (associations.length === 0 && credentials.length === 0) return;
    this.#dropping = { associations: [], credentials: [] };
    for (const associationId of associations) {
      const credentialId = this.#associations.drop(associationId);
      if (credentialId !== undefined) credentials.push(credentialId);
    }
    for (const credentialId of credentials) {
      this.#owner.credential.forget(credentialId, (id) => this.#associations.names(id) || this.#raisable.has(id));
    }
  }

  /** Associations a holder's end visited so far in this fold (work done, for tests and diagnostics). */
  get holderEndVisits(): number {
    return this.#associations.visited;
  }

  /** The CSE-ID belongs to `nodeId` from now on, and so do the credentials issued to it that were waiting. */
  #link(cseId: string, nodeId: string): void {
    for (const credentialId of this.#owner.cse.link(cseId, nodeId)) {
      // One revoked while it waited was named as a credential of no node: its raise is named so too (review 210).
      if (!this.#raisable.has(credentialId)) this.#owner.credential.bind(credentialId, nodeId);
    }
  }

  /**
   * An ended node lets its CSE-IDs go, as the cascade does: a credential issued to one of them later without naming its
   * node is the next owner's (it waits for the node that claims the identifier), not the ended node's. Until another
   * node claims it, the identifier is still named under the ended node (its frozen epoch), as the node's other
   * identifiers are (found in review: named at epoch 0 instead, beside the node's epoch-e names, it linked the two
   * epochs). Credentials bound before stay with the node they were bound to.
   */
  #release(nodeId: string): void {
    this.#nodes.ended(nodeId);
    this.#owner.cse.release(nodeId);
  }

  /** The App-ID a live App-ID or AE credential belongs to (until the event that ends it was published). */
  appOf(credentialId: string): string | undefined {
    return this.#apps.appOf(credentialId);
  }

  /**
   * The App-ID `appOf` will give once the fold observed the next event (observing one lets go what the last one ended):
   * a stream deciding an event's scope before it decodes it asks what the fold will say once it observed it.
   */
  appOfNext(credentialId: string): string | undefined {
    return this.#apps.appOfNext(credentialId);
  }

  /**
   * The subscription the node was last enrolled under, from its `NodeEnrolled` until another (a move); none from a move
   * until the node's next rotation: no scope sees it under the names the old subscription saw (review 369).
   */
  subscriptionOf(nodeId: string): string | undefined {
    return this.#nodes.subscriptionOf(nodeId);
  }

  /** The node's epoch: its latest rotation so far, or 0 before its first (epoch 0 is what the first rotation takes). */
  epochOf(nodeId: string): number {
    return this.#nodes.epochOf(nodeId);
  }

  /**
   * The node the identifier belongs to, if any; an AE-ID's is the node it is named under (`under`: the frame's node,
   * its association's, or its credential's), and so is a CSE-ID's where the frame names its node. A credential named with an association (`under`) is named under the
   * association's node: two nodes may use one AE credential, and one node's frames never carry a name that follows
   * the other's epochs (review 45).
   */
  nodeOf(kind: IdentifierKind, id: string, under: NamedUnder = {}): string | undefined {
    switch (kind) {
      case 'node':
        return id;
      case 'subscription':
        return undefined;
      case 'ae':
        return (
          under.nodeId ??
          (under.associationId === undefined ? undefined : this.#associations.nodeOf(under.associationId)) ??
          (under.credentialId === undefined ? undefined : this.#owner.credential.nodeOf(under.credentialId))
        );
      case 'cse': {
        // Named under the frame's node when it has one (its enrolment, its association's registree): two live nodes may
        // hold one CSE-ID for a while (a replacement device, RS-01), and under its latest holder the first node's
        // frames would carry a name that does not change with its epochs (review 112).
        // A CSE-ID a frame names but does not hold (a registrar): under the frame's node whoever holds it, or no one
        // yet, as that node's other names (reviews 375, 379); only the infrastructure's own keeps its stable name.
        if (under.namedBy !== undefined) return id === INFRASTRUCTURE_REGISTRAR_CSE_ID ? undefined : under.namedBy;
        return under.nodeId ?? this.#owner.cse.nodeOf(id);
      }
      case 'credential':
        return (
          under.nodeId ??
          (under.associationId === undefined ? undefined : this.#associations.nodeOf(under.associationId)) ??
          this.#owner.credential.nodeOf(id)
        );
      case 'association':
        return this.#associations.nodeOf(id);
    }
  }

  /**
   * The epoch the node's identifiers are named under now: its latest rotation folded, or, before the first, the epoch
   * that rotation takes (`deriver.firstEpochs`: the first one the log records, else past keys.db's mark, else 0). At 0
   * always, a node registered again after a whole-folder restore was named before its first rotation under the
   * pseudonym integrators saw before the restore, which no rotation in the log records (review 303; SER-011).
   */
  async #namingEpoch(deriver: PseudonymDeriver, nodeId: string): Promise<number> {
    return this.#nodes.rotatedTo(nodeId) ?? (await deriver.firstEpochs?.firstEpochOf(nodeId)) ?? 0;
  }

  /** The identifier's current public form: under its node's epoch and with its node in the derivation, if it has one. */
  async pseudonymOf(deriver: PseudonymDeriver, kind: IdentifierKind, id: string, under: NamedUnder = {}): Promise<string> {
    if (kind === 'node') return deriver.identifier(kind, id, await this.#namingEpoch(deriver, id));
    const node = this.nodeOf(kind, id, under);
    if (node !== undefined) return deriver.identifier(kind, id, await this.#namingEpoch(deriver, node), node);
    // An AE-ID owning a credential of no node: one pseudonym per issuance, never one that lasts beside a node's names.
    if (kind === 'ae' && under.credentialId !== undefined) return deriver.identifier(kind, id, 0, undefined, under.credentialId);
    return deriver.identifier(kind, id, 0);
  }
}
