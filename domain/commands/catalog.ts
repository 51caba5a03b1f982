import type { EventType } from '../events/index.ts';
import type { Role } from '../metadata.ts';

/**
 * Every command, in the imperative, with the fact it records when the machine accepts it and who may issue it.
 * Command data has the shape of its event's data: the decision is the machine's (guards), not a translation.
 * Bookkeeping commands (record/release) are issued by the process manager as the `system` actor.
 */
const OPERATOR: readonly Role[] = ['operator', 'system'];
const SYSTEM: readonly Role[] = ['system'];
/** Resolving a pseudonym to its node is for auditors only (SER-025), and each resolution is itself recorded. */
const AUDITOR: readonly Role[] = ['auditor'];

export const COMMAND_CATALOG = {
  createSubscription: { event: 'SubscriptionCreated', roles: OPERATOR },
  expireSubscription: { event: 'SubscriptionExpired', roles: OPERATOR },
  terminateSubscription: { event: 'SubscriptionTerminated', roles: OPERATOR },
  registerNode: { event: 'NodeRegistered', roles: OPERATOR },
  enrolNode: { event: 'NodeEnrolled', roles: OPERATOR },
  recordNodeAssociation: { event: 'NodeAssociated', roles: SYSTEM },
  releaseNodeAssociation: { event: 'NodeAssociationReleased', roles: SYSTEM },
  expireNodeEnrolment: { event: 'NodeEnrolmentExpired', roles: OPERATOR },
  revokeNode: { event: 'NodeRevoked', roles: OPERATOR },
  issueCredential: { event: 'CredentialIssued', roles: OPERATOR },
  provisionCredential: { event: 'CredentialProvisioned', roles: OPERATOR },
  recordCredentialAssociation: { event: 'CredentialAssociated', roles: SYSTEM },
  releaseCredentialAssociation: { event: 'CredentialAssociationReleased', roles: SYSTEM },
  startCredentialRotation: { event: 'CredentialRotationStarted', roles: OPERATOR },
  abandonCredentialRotation: { event: 'CredentialRotationAbandoned', roles: OPERATOR },
  expireCredential: { event: 'CredentialExpired', roles: OPERATOR },
  revokeCredential: { event: 'CredentialRevoked', roles: OPERATOR },
  registerApplication: { event: 'ApplicationRegistered', roles: OPERATOR },
  enrolApplication: { event: 'ApplicationEnrolled', roles: OPERATOR },
  recordApplicationInstance: { event: 'ApplicationInstanceAssociated', roles: SYSTEM },
  releaseApplicationInstance: { event: 'ApplicationInstanceReleased', roles: SYSTEM },
  endApplicationEnrolment: { event: 'ApplicationEnrolmentEnded', roles: OPERATOR },
  revokeApplication: { event: 'ApplicationRevoked', roles: OPERATOR },
  configureAssociation: { event: 'AssociationConfigured', roles: OPERATOR },
  establishAssociation: { event: 'AssociationEstablished', roles: OPERATOR },
  expireAssociation: { event: 'AssociationExpired', roles: OPERATOR },
  revokeAssociation: { event: 'AssociationRevoked', roles: OPERATOR },
  rotatePseudonym: { event: 'PseudonymRotated', roles: OPERATOR },
  resolvePseudonym: { event: 'PseudonymResolved', roles: AUDITOR },
} as const satisfies Record<string, { event: EventType; roles: readonly Role[] }>;

export type CommandType = keyof typeof COMMAND_CATALOG;
export const COMMAND_TYPES = Object.keys(COMMAND_CATALOG) as CommandType[];
export type EventOfCommand<C extends CommandType> = (typeof COMMAND_CATALOG)[C]['event'];

/**
 * The one event type a command of `commandType` records; undefined for a type no command has. A command records its
 * catalog event and nothing else, on its target's stream alone (decide.ts; record.ts appends to that stream only), and
 * the engine's own commands (the cascade's reactions and bookkeeping, the scheduler's expiries, the pseudonym rotation)
 * are commands of this catalog too. What replay holds a record's type to, and what a process manager's command under
 * its derived id is known by (review 234: a record of another type under it passed for the cascade's revocation).
 */
export const eventOfCommandType = (commandType: string): EventType | undefined =>
  Object.hasOwn(COMMAND_CATALOG, commandType) ? COMMAND_CATALOG[commandType as CommandType].event : undefined;

/** The command that records a given event type (the inverse of the catalog). */
export const COMMAND_FOR_EVENT = Object.fromEntries(
  COMMAND_TYPES.map((c) => [COMMAND_CATALOG[c].event, c]),
) as Record<EventType, CommandType>;
