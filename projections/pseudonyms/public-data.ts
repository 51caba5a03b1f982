import type { EventData, EventType } from '../../domain/events/index.ts';
import type { IdentifierKind } from './derive.ts';
import type { NamedUnder } from './identities.ts';

/**
 * Looks up the current public form of an identifier. An AE-ID is a node's only as the frame says (`under`: the node it
 * names, or the association it is named with); without one it is named as no node's (a credential's owner at issue).
 */
export type Pseudonymise = (kind: IdentifierKind, id: string, under?: NamedUnder) => Promise<string>;

export type PublicData = { readonly [key: string]: string | number | boolean | readonly string[] | PublicData };

type Mapper<T extends EventType> = (data: EventData<T>, p: Pseudonymise) => Promise<PublicData>;

const optional = async (p: Pseudonymise, kind: IdentifierKind, id: string | undefined, key: string): Promise<PublicData> =>
  id === undefined ? {} : { [key]: await p(kind, id) };

const ownerKind = { node: 'node', cse: 'cse', ae: 'ae' } as const;

const DAY_MS = 86_400_000;

/**
 * The start of the instant's UTC day: the only grain at which the public stream gives a time. An exact deadline
 * (notAfter, expiresAt, overlapEndsAt) published under one pseudonym is nearly unique, and the event the scheduler
 * emits within a tick of it names the same node under a later one, so an exact time links a node's epochs (found in
 * review). The start and not the end of the day: one rule for every time, the events' `occurredAt` included, so
 * the expiry published for a deadline never comes before the deadline published, and a published end of validity is
 * never later than the real one.
 */
export const publicDay = (instant: string): string => {
  const ms = Date.parse(instant);
  if (Number.isNaN(ms)) throw new RangeError(`instant: must be an ISO 8601 date-time, got ${JSON.stringify(instant)}`);
  return new Date(Math.floor(ms / DAY_MS) * DAY_MS).toISOString();
};

/**
 * What integrators see of each event type (SER-011, SER-018, SER-025). An allow-list, one entry per event
 * type, so a new event type cannot reach the public stream before someone decides what of it is public:
 * canonical identifiers become pseudonyms; fingerprints, public keys, certificates, receipts and transcript
 * hashes are dropped because each is a stable handle on one device; free text and subscriber names are dropped
 * because they may name a stakeholder, and so are a node's profile (its class and capabilities are free text) and an
 * application's name and provider; times are given to the UTC day only (`publicDay`). `null`: the event is not
 * published at all.
 */
export const PUBLIC_DATA: { readonly [T in EventType]: Mapper<T> | null } = {
  SubscriptionCreated: async (d, p) => ({
    subscriptionId: await p('subscription', d.subscriptionId),
    notBefore: publicDay(d.notBefore),
    notAfter: publicDay(d.notAfter),
  }),
  SubscriptionExpired: async (d, p) => ({ subscriptionId: await p('subscription', d.subscriptionId) }),
  SubscriptionTerminated: async (d, p) => ({ subscriptionId: await p('subscription', d.subscriptionId) }),
  // No profile: its class and capabilities are free text (up to 64 characters each) an operator may fill with a serial
  // number or a customer's name, which, published beside each of a node's pseudonyms, would link its epochs for every
  // integrator (SER-011, SER-025); manufacturer and model name a stakeholder (SER-018). Nothing stable stands in.
  NodeRegistered: async (d, p) => ({
    nodeId: await p('node', d.nodeId),
    ...(await optional(p, 'credential', d.bootstrapCredentialId, 'bootstrapCredentialId')),
  }),
  NodeEnrolled: async (d, p) => ({
    nodeId: await p('node', d.nodeId),
    subscriptionId: await p('subscription', d.subscriptionId),
    cseId: await p('cse', d.cseId, { nodeId: d.nodeId }),
  }),
  NodeAssociated: async (d, p) => ({ nodeId: await p('node', d.nodeId), associationId: await p('association', d.associationId) }),
  NodeAssociationReleased: async (d, p) => ({ nodeId: await p('node', d.nodeId), associationId: await p('association', d.associationId) }),
  NodeEnrolmentExpired: async (d, p) => ({ nodeId: await p('node', d.nodeId), subscriptionId: await p('subscription', d.subscriptionId) }),
  NodeRevoked: async (d, p) => ({ nodeId: await p('node', d.nodeId), reason: d.reason }),
  CredentialIssued: async (d, p) => ({
    credentialId: await p('credential', d.credentialId),
    kind: d.kind,
    purpose: d.purpose,
    // An App-ID names an application registered with a registration authority, not a stakeholder: it stays. An
    // AE-ID is named under its credential's node (a successor's is its predecessor's) or, for a credential of no node
    // yet, with the credential as context: never one pseudonym across issuances, which the predecessors named under
    // their node would chain across the node's epochs (review 45).
    owner: {
      kind: d.owner.kind,
      id:
        d.owner.kind === 'app'
          ? d.owner.id
          : d.owner.kind === 'ae'
            ? await p('ae', d.owner.id, { credentialId: d.credentialId })
            : d.owner.kind === 'cse' && d.owner.nodeId !== undefined
              ? await p('cse', d.owner.id, { nodeId: d.owner.nodeId })
              : await p(ownerKind[d.owner.kind], d.owner.id),
    },
    notBefore: publicDay(d.notBefore),
    notAfter: publicDay(d.notAfter),
    ...(await optional(p, 'credential', d.predecessorId, 'predecessorId')),
  }),
  CredentialProvisioned: async (d, p) => ({
    credentialId: await p('credential', d.credentialId),
    method: d.method,
    ...(await optional(p, 'credential', d.bootstrapCredentialId, 'bootstrapCredentialId')),
  }),
  // A credential named with an association is named under the association's node (two nodes may use one).
  CredentialAssociated: async (d, p) => ({
    credentialId: await p('credential', d.credentialId, { associationId: d.associationId }),
    associationId: await p('association', d.associationId),
  }),
  CredentialAssociationReleased: async (d, p) => ({
    credentialId: await p('credential', d.credentialId, { associationId: d.associationId }),
    associationId: await p('association', d.associationId),
  }),
  CredentialRotationStarted: async (d, p) => ({
    credentialId: await p('credential', d.credentialId),
    successorId: await p('credential', d.successorId),
    overlapEndsAt: publicDay(d.overlapEndsAt),
  }),
  CredentialRotationAbandoned: async (d, p) => ({
    credentialId: await p('credential', d.credentialId),
    successorId: await p('credential', d.successorId),
  }),
  CredentialExpired: async (d, p) => ({ credentialId: await p('credential', d.credentialId) }),
  CredentialRevoked: async (d, p) => ({ credentialId: await p('credential', d.credentialId), reason: d.reason }),
  // No name, no provider: free text (up to 128 characters each) an operator writes, and the provider names a
  // stakeholder by definition (SER-018; review 48). The App-ID, an identifier of the application, stays.
  ApplicationRegistered: async (d) => ({ appId: d.appId }),
  ApplicationEnrolled: async (d, p) => ({
    appId: d.appId,
    credentialId: await p('credential', d.credentialId),
    ...(d.replaces !== undefined ? { replaces: await p('credential', d.replaces) } : {}),
  }),
  ApplicationInstanceAssociated: async (d, p) => ({
    appId: d.appId,
    aeId: await p('ae', d.aeId, { associationId: d.associationId }),
    associationId: await p('association', d.associationId),
  }),
  ApplicationInstanceReleased: async (d, p) => ({ appId: d.appId, associationId: await p('association', d.associationId) }),
  ApplicationEnrolmentEnded: async (d, p) => ({ appId: d.appId, credentialId: await p('credential', d.credentialId), reason: d.reason }),
  ApplicationRevoked: async (d) => ({ appId: d.appId, reason: d.reason }),
  AssociationConfigured: async (d, p) => ({
    associationId: await p('association', d.associationId),
    nodeId: await p('node', d.nodeId),
    registree: (d.registree.kind === 'ae'
      ? { kind: 'ae', id: await p('ae', d.registree.id, { nodeId: d.nodeId }), appId: d.registree.appId }
      : { kind: 'cse', id: await p('cse', d.registree.id, { nodeId: d.nodeId }) }) as PublicData,
    // A gateway's CSE-ID under this node, not the gateway's epochs (a move of the gateway gives its old and new
    // subscription those alike, review 375), nor one name of no node before the gateway enrols (review 379). The
    // infrastructure's own Registrar CSE keeps its stable name.
    registrarCseId: await p('cse', d.registrarCseId, { namedBy: d.nodeId }),
    // Under the association's node, as the AE-ID: one credential two nodes use changes with each (review 45).
    credentialId: await p('credential', d.credentialId, { nodeId: d.nodeId }),
  }),
  AssociationEstablished: async (d, p) => ({ associationId: await p('association', d.associationId), expiresAt: publicDay(d.expiresAt) }),
  AssociationExpired: async (d, p) => ({ associationId: await p('association', d.associationId) }),
  AssociationRevoked: async (d, p) => ({ associationId: await p('association', d.associationId), reason: d.reason }),
  // Rotations would link a node's consecutive pseudonyms; resolutions name who is being looked at.
  PseudonymRotated: null,
  PseudonymResolved: null,
};
