import type { DomainEvent } from '../../domain/events/index.ts';
import type { IdentifierKind, PseudonymDeriver } from './derive.ts';

/** Event types that change which node an identifier belongs to, or a node's epoch. */
export const IDENTITY_EVENT_TYPES = [
  'NodeRegistered',
  'NodeEnrolled',
  'NodeEnrolmentExpired',
  'NodeRevoked',
  'CredentialIssued',
  'AssociationConfigured',
  'PseudonymRotated',
] as const;

/** A CSE-ID's or AE-ID's key in the sets below: its kind and id in one text. */
const identifierKey = (kind: 'cse' | 'ae', id: string): string => `${kind}\n${id}`;

/**
 * Who owns each identifier, and each node's current epoch, folded from events in global order. An identifier
 * that belongs to a node is pseudonymised under that node's epoch, so when the node rotates, its CSE-ID,
 * AE-IDs, credentials and associations all change pseudonym with it and nothing links the epochs. Identifiers
 * that belong to no node (subscriptions, an infrastructure Registrar CSE) keep one stable pseudonym.
 */
export class PublicIdentities {
  readonly #epoch: Map<string, number>;
  readonly #owner: Record<Exclude<IdentifierKind, 'node' | 'subscription'>, Map<string, string>>;
  /**
   * Credentials issued to a CSE-ID or AE-ID no event had tied to a node yet (an AE's credential precedes the
   * association that names its AE): they take that node when one does, and change pseudonym with it from then on.
   */
  readonly #waiting: Record<'cse' | 'ae', Map<string, string[]>>;
  /** Each node's CSE-IDs and AE-IDs (`cse\n<id>`), to let them go when it ends. */
  readonly #identifiersOf: Map<string, Set<string>>;
  /** Nodes revoked or whose enrolment expired: an association stored after takes no identifier back for them. */
  readonly #ended: Set<string>;
  /** CSE-IDs and AE-IDs (`cse\n<id>`) an ended node let go: still named under its epoch, owned by no one. */
  readonly #released: Set<string>;

  constructor(from?: PublicIdentities) {
    const owner = from === undefined ? undefined : from.#owner;
    this.#epoch = new Map(from === undefined ? undefined : from.#epoch);
    this.#owner = {
      cse: new Map(owner?.cse),
      ae: new Map(owner?.ae),
      credential: new Map(owner?.credential),
      association: new Map(owner?.association),
    };
    const waiting = from === undefined ? undefined : from.#waiting;
    const copied = (m: Map<string, string[]> | undefined) => new Map([...(m ?? [])].map(([id, credentials]) => [id, [...credentials]]));
    this.#waiting = { cse: copied(waiting?.cse), ae: copied(waiting?.ae) };
    this.#identifiersOf = new Map([...(from === undefined ? [] : from.#identifiersOf)].map(([node, keys]) => [node, new Set(keys)]));
    this.#ended = new Set(from === undefined ? undefined : from.#ended);
    this.#released = new Set(from === undefined ? undefined : from.#released);
  }

  /** A copy that folds on without changing this one. */
  copy(): PublicIdentities {
    return new PublicIdentities(this);
  }

  /**
   * The same copy, made a slice of entries at a time with `pause()` awaited between slices: a fleet's fold holds
   * hundreds of thousands of entries, and one synchronous copy of 200,000 nodes' held the event loop for a second
   * at every pseudonymised stream's open (found in review). This one must not change while it is copied.
   */
  async copyPausing(pause: () => Promise<unknown>, entriesPerSlice = 10_000): Promise<PublicIdentities> {
    const into = new PublicIdentities();
    let copied = 0;
    const step = async (): Promise<void> => {
      if (++copied % entriesPerSlice === 0) await pause();
    };
    const fill = async <K, V>(target: Map<K, V> | Set<K>, source: Map<K, V> | Set<K>, clone: (v: V) => V = (v) => v): Promise<void> => {
      if (target instanceof Set) {
        for (const key of source as Set<K>) {
          target.add(key);
          await step();
        }
        return;
      }
      for (const [key, value] of source as Map<K, V>) {
        target.set(key, clone(value));
        await step();
      }
    };
    await fill(into.#epoch, this.#epoch);
    for (const kind of ['cse', 'ae', 'credential', 'association'] as const) await fill(into.#owner[kind], this.#owner[kind]);
    for (const kind of ['cse', 'ae'] as const) await fill(into.#waiting[kind], this.#waiting[kind], (credentials) => [...credentials]);
    await fill(into.#identifiersOf, this.#identifiersOf, (keys) => new Set(keys));
    await fill(into.#ended, this.#ended);
    await fill(into.#released, this.#released);
    return into;
  }

  observe(event: DomainEvent): void {
    switch (event.type) {
      case 'NodeRegistered':
        if (event.data.bootstrapCredentialId !== undefined) {
          this.#owner.credential.set(event.data.bootstrapCredentialId, event.data.nodeId);
        }
        return;
      case 'NodeEnrolled':
        this.#link('cse', event.data.cseId, event.data.nodeId);
        return;
      case 'NodeEnrolmentExpired':
      case 'NodeRevoked':
        this.#release(event.data.nodeId);
        return;
      case 'CredentialIssued': {
        const { owner, credentialId } = event.data;
        if (owner.kind === 'node') this.#owner.credential.set(credentialId, owner.id);
        // A CSE-ID's credential that names its node (review 41) is that node's, whoever holds the CSE-ID later.
        else if (owner.kind === 'cse' && owner.nodeId !== undefined) this.#owner.credential.set(credentialId, owner.nodeId);
        else if (owner.kind === 'cse' || owner.kind === 'ae') {
          const node = this.#released.has(identifierKey(owner.kind, owner.id)) ? undefined : this.#owner[owner.kind].get(owner.id);
          if (node !== undefined) this.#owner.credential.set(credentialId, node);
          else {
            const waiting = this.#waiting[owner.kind].get(owner.id);
            if (waiting === undefined) this.#waiting[owner.kind].set(owner.id, [credentialId]);
            else waiting.push(credentialId);
          }
        }
        return;
      }
      case 'AssociationConfigured': {
        const { associationId, nodeId, registree } = event.data;
        this.#owner.association.set(associationId, nodeId);
        // An association stored after its node ended (a raced import) takes no identifier back from whoever has it.
        if (this.#ended.has(nodeId)) return;
        if (registree.kind === 'ae') this.#link('ae', registree.id, nodeId);
        else if (!this.#owner.cse.has(registree.id) || this.#released.has(identifierKey('cse', registree.id))) this.#link('cse', registree.id, nodeId);
        return;
      }
      case 'PseudonymRotated': {
        const { nodeId, epoch } = event.data;
        if (epoch > (this.#epoch.get(nodeId) ?? -1)) this.#epoch.set(nodeId, epoch);
        return;
      }
      default:
        return;
    }
  }

  /** The CSE-ID or AE-ID belongs to `nodeId` from now on, and so do the credentials issued to it that were waiting. */
  #link(kind: 'cse' | 'ae', id: string, nodeId: string): void {
    const key = identifierKey(kind, id);
    const before = this.#owner[kind].get(id);
    if (before !== undefined) this.#identifiersOf.get(before)?.delete(key);
    this.#released.delete(key);
    this.#owner[kind].set(id, nodeId);
    let own = this.#identifiersOf.get(nodeId);
    if (own === undefined) this.#identifiersOf.set(nodeId, (own = new Set()));
    own.add(key);
    const waiting = this.#waiting[kind].get(id);
    if (waiting === undefined) return;
    this.#waiting[kind].delete(id);
    for (const credentialId of waiting) this.#owner.credential.set(credentialId, nodeId);
  }

  /**
   * An ended node lets its CSE-IDs and AE-IDs go, as the cascade does: a credential issued to one of them later is
   * the next owner's (it waits for the node that claims the identifier), not the ended node's. Until another node
   * claims it, the identifier is still named under the ended node's frozen epoch, as the node's other identifiers
   * are (found in review: named at epoch 0 instead, beside the node's epoch-e names, it linked the two epochs).
   * Credentials linked before stay with the node they were issued under.
   */
  #release(nodeId: string): void {
    this.#ended.add(nodeId);
    const own = this.#identifiersOf.get(nodeId);
    if (own === undefined) return;
    this.#identifiersOf.delete(nodeId);
    for (const key of own) this.#released.add(key);
  }

  /** The node's epoch: its latest rotation so far, or 0 before its first (epoch 0 is what the first rotation takes). */
  epochOf(nodeId: string): number {
    return this.#epoch.get(nodeId) ?? 0;
  }

  nodeOf(kind: IdentifierKind, id: string): string | undefined {
    if (kind === 'node') return id;
    if (kind === 'subscription') return undefined;
    return this.#owner[kind].get(id);
  }

  /** The identifier's current public form. */
  async pseudonymOf(deriver: PseudonymDeriver, kind: IdentifierKind, id: string): Promise<string> {
    const node = this.nodeOf(kind, id);
    return deriver.identifier(kind, id, node === undefined ? 0 : this.epochOf(node));
  }
}
