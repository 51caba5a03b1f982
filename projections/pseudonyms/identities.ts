import type { DomainEvent } from '../../domain/events/index.ts';
import type { IdentifierKind, PseudonymDeriver } from './derive.ts';

/** Event types that change which node an identifier belongs to, or a node's epoch. */
export const IDENTITY_EVENT_TYPES = [
  'NodeRegistered',
  'NodeEnrolled',
  'CredentialIssued',
  'AssociationConfigured',
  'PseudonymRotated',
] as const;

/**
 * Who owns each identifier, and each node's current epoch, folded from events in global order. An identifier
 * that belongs to a node is pseudonymised under that node's epoch, so when the node rotates, its CSE-ID,
 * AE-IDs, credentials and associations all change pseudonym with it and nothing links the epochs. Identifiers
 * that belong to no node (subscriptions, an infrastructure Registrar CSE) keep one stable pseudonym.
 */
export class PublicIdentities {
  readonly #epoch: Map<string, number>;
  readonly #owner: Record<Exclude<IdentifierKind, 'node' | 'subscription'>, Map<string, string>>;

  constructor(from?: PublicIdentities) {
    const owner = from === undefined ? undefined : from.#owner;
    this.#epoch = new Map(from === undefined ? undefined : from.#epoch);
    this.#owner = {
      cse: new Map(owner?.cse),
      ae: new Map(owner?.ae),
      credential: new Map(owner?.credential),
      association: new Map(owner?.association),
    };
  }

  /** A copy that folds on without changing this one. */
  copy(): PublicIdentities {
    return new PublicIdentities(this);
  }

  observe(event: DomainEvent): void {
    switch (event.type) {
      case 'NodeRegistered':
        if (event.data.bootstrapCredentialId !== undefined) {
          this.#owner.credential.set(event.data.bootstrapCredentialId, event.data.nodeId);
        }
        return;
      case 'NodeEnrolled':
        this.#owner.cse.set(event.data.cseId, event.data.nodeId);
        return;
      case 'CredentialIssued': {
        const { owner, credentialId } = event.data;
        const node =
          owner.kind === 'node' ? owner.id : owner.kind === 'cse' ? this.#owner.cse.get(owner.id) : owner.kind === 'ae' ? this.#owner.ae.get(owner.id) : undefined;
        if (node !== undefined) this.#owner.credential.set(credentialId, node);
        return;
      }
      case 'AssociationConfigured': {
        const { associationId, nodeId, registree } = event.data;
        this.#owner.association.set(associationId, nodeId);
        if (registree.kind === 'ae') this.#owner.ae.set(registree.id, nodeId);
        else if (!this.#owner.cse.has(registree.id)) this.#owner.cse.set(registree.id, nodeId);
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
