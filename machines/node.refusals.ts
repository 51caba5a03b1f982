import type { CredentialContext, NodeContext, SubscriptionContext } from './contexts.ts';
import { dataOf } from './guards.ts';
import { associationFound, instant, ownerText, standing, windowText, type RefusalReasons } from './refusal-reasons.ts';
import type { MachineEvent } from './types.ts';

const subscriptionIdOf = (event: MachineEvent): string | undefined =>
  dataOf(event, 'NodeEnrolled')?.subscriptionId ?? dataOf(event, 'NodeEnrolmentExpired')?.subscriptionId;

const associationIdOf = (event: MachineEvent): string | undefined =>
  dataOf(event, 'NodeAssociated')?.associationId ?? dataOf(event, 'NodeAssociationReleased')?.associationId;

const subscriptionFound = (event: MachineEvent): string => {
  const s = event.facts.subscription;
  const window = s === undefined ? '' : `, ${windowText(s.context as unknown as SubscriptionContext)}, and this is ${instant(event.at)}`;
  return `subscription ${subscriptionIdOf(event)} ${standing(s)}${window}`;
};

/** What each node guard asks, and what it found, once it has refused (machines/refusal-reasons.ts). */
export const nodeRefusals: RefusalReasons<NodeContext> = {
  bootstrapNotYetRecorded: ({ event }) => {
    const d = dataOf(event, 'NodeRegistered');
    const owner = (event.facts.bootstrap?.context as CredentialContext | undefined)?.owner;
    return (
      `node ${d?.nodeId} registers naming a bootstrap credential not recorded yet: it is issued to the node after its registration (seed 004; review 288); ` +
      `credential ${d?.bootstrapCredentialId} is recorded already, owned by ${ownerText(owner)}`
    );
  },
  subscriptionExists: ({ context, event }) => `node ${context.nodeId} enrols under a recorded subscription (seed 003, 11.2.1); ${subscriptionFound(event)}`,
  subscriptionActive: ({ context, event }) =>
    `node ${context.nodeId} enrols under a subscription active and within its validity (seed 003, 11.2.1); ${subscriptionFound(event)}`,
  currentSubscriptionServes: ({ context, event }) => {
    const s = event.facts.currentSubscription;
    const window = s === undefined ? '' : `, ${windowText(s.context as unknown as SubscriptionContext)}, and this is ${instant(event.at)}`;
    return (
      `node ${context.nodeId} moves to subscription ${dataOf(event, 'NodeEnrolled')?.subscriptionId} only while the one it is enrolled under still serves it, ` +
      `active and before its notAfter: a terminated or lapsed subscription expires its nodes (seed 003, 11.2.1; RS-17); ` +
      `subscription ${context.subscriptionId ?? '(none)'} ${standing(s)}${window}`
    );
  },
  subscriptionIsCurrent: ({ context, event }) =>
    `node ${context.nodeId}'s enrolment expires with the subscription it is enrolled under, ${context.subscriptionId ?? '(none)'}; the event names ${subscriptionIdOf(event)}`,
  subscriptionEnded: ({ context, event }) =>
    `node ${context.nodeId}'s enrolment expires once its subscription has ended (no longer active, or at or past its notAfter); ${subscriptionFound(event)}`,
  associationIsLive: ({ context, event }) =>
    `a release names an association live on node ${context.nodeId}; association ${dataOf(event, 'NodeAssociationReleased')?.associationId} is not one of its ${context.liveAssociations?.length ?? 0} live associations`,
  associationIsNew: ({ context, event }) =>
    `an association is recorded on node ${context.nodeId} once; association ${dataOf(event, 'NodeAssociated')?.associationId} is already live on it`,
  associationNamesThisNode: ({ context, event }) =>
    `an association recorded on (or released from) node ${context.nodeId} is one established for it (seed 003, 11.3; review 234); ` +
    associationFound(associationIdOf(event), event.facts.association, (a) => `node ${a.nodeId ?? '(none)'}`),
  associationEnded: ({ context, event }) =>
    `an association is released from node ${context.nodeId} once it has ended (revoked or expired); association ${associationIdOf(event)} ${standing(event.facts.association)}`,
};
