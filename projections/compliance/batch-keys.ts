import type { DecodedEvent } from '../../domain/stored.ts';
import { appAeId, identifierKey, identifierOfOwner } from './identifier-keys.ts';

/**
 * What the batch reads before it applies anything: the rows any of its events moves on, and the enrolments of the
 * nodes owning a credential it provisions (those issued in the batch here, those stored once they are read). A
 * credential or association the batch only inserts is not read: nothing in the batch looks at it, and
 * `INSERT OR IGNORE` keeps a stored one (first insert wins).
 */
export const keysOf = (events: readonly DecodedEvent[]) => {
  const nodes = new Set<string>();
  const credentials = new Set<string>();
  const associations = new Set<string>();
  const provisioned = new Set<string>();
  const identifiers = new Set<string>();
  const associationNodes = new Set<string>();
  // The identifiers the batch's events name: provisionings waiting for them are read (pending.ts).
  const named = new Set<string>();
  // Established: their App-ID's instance (`app-ae`) is named at the node they name, read with the association.
  const established = new Set<string>();
  for (const { event } of events) {
    switch (event.type) {
      case 'NodeEnrolled':
        nodes.add(event.data.nodeId);
        named.add(identifierKey('cse', event.data.cseId));
        break;
      case 'NodeEnrolmentExpired':
      case 'NodeRevoked':
        nodes.add(event.data.nodeId);
        break;
      case 'AssociationConfigured':
        // The node it names may be the one a credential issued to its Registree, provisioned later in the batch,
        // counts under: its enrolment is read when the batch provisions such a credential.
        associationNodes.add(event.data.nodeId);
        named.add(identifierKey(event.data.registree.kind, event.data.registree.id));
        if (event.data.registree.kind === 'ae') named.add(identifierKey('app-ae', appAeId(event.data.registree.appId, event.data.registree.id)));
        break;
      case 'CredentialProvisioned':
        provisioned.add(event.data.credentialId);
        credentials.add(event.data.credentialId);
        break;
      case 'CredentialExpired':
      case 'CredentialRevoked':
        credentials.add(event.data.credentialId);
        break;
      case 'AssociationEstablished':
        established.add(event.data.associationId);
        associations.add(event.data.associationId);
        break;
      case 'AssociationExpired':
      case 'AssociationRevoked':
        associations.add(event.data.associationId);
        break;
      default:
        break;
    }
  }
  if (provisioned.size > 0) {
    for (const { event } of events) {
      if (event.type !== 'CredentialIssued' || !provisioned.has(event.data.credentialId)) continue;
      const { owner } = event.data;
      if (owner.kind === 'node') nodes.add(owner.id);
      else if (owner.kind === 'cse' && owner.nodeId !== undefined) nodes.add(owner.nodeId);
      else {
        const identifier = identifierOfOwner(owner.kind, owner.id, owner.appId);
        if (identifier !== undefined) identifiers.add(identifier);
      }
    }
  }
  return { nodes, credentials, associations, provisioned, identifiers, associationNodes, named, established };
};

export type BatchKeys = ReturnType<typeof keysOf>;
