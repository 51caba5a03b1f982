import type { Registree } from '../domain/events/index.ts';
import type { ApplicationContext, AssociationContext, CredentialContext, NodeContext, SubscriptionContext } from './contexts.ts';
import { unusableAt } from './credential.refusals.ts';
import { dataOf, isOneOf, ms, nodeHoldsCseId } from './guards.ts';
import { instant, ownerText, saying, standing, windowText, type RefusalReasons } from './refusal-reasons.ts';
import { isWithin, type MachineEvent } from './types.ts';

/** The configuration's own data, or what the machine kept of it (association.machine.ts configurationOf). */
const configured = (context: AssociationContext, event: MachineEvent) => {
  const d = dataOf(event, 'AssociationConfigured');
  return {
    id: d?.associationId ?? context.associationId,
    nodeId: d?.nodeId ?? context.nodeId,
    credentialId: d?.credentialId ?? context.credentialId,
    registree: d?.registree ?? context.registree,
  };
};

const registreeText = (r: Registree | undefined): string =>
  r === undefined ? '(none)' : r.kind === 'cse' ? `CSE ${r.id}` : `AE ${r.id} of App-ID ${r.appId}`;

const credentialOf = (event: MachineEvent) => event.facts.credential?.context as CredentialContext | undefined;
const nodeOf = (event: MachineEvent) => event.facts.node?.context as NodeContext | undefined;

/**
 * What each association guard asks, and what it found, once it has refused (machines/refusal-reasons.ts; review: a
 * configuration with another node's credential was refused "by rule credentialBelongsToRegistree" and nothing more).
 */
const ownRefusals: RefusalReasons<AssociationContext> = {
  credentialUsable: ({ context, event }) => {
    const { id, credentialId } = configured(context, event);
    return saying(
      `association ${id} is built on a credential enrolled or associated, inside its validity and before its rotation's overlap ends (seed 003, 11.3.2)`,
      unusableAt(`credential ${credentialId}`, event.facts.credential, event.at),
    );
  },
  registrarIsNotRegistree: ({ event }) => {
    const d = dataOf(event, 'AssociationConfigured');
    return `association ${d?.associationId} is made with a Registrar CSE other than its Registree (seed 003, 11.3); registrarCseId ${d?.registrarCseId} is the Registree ${registreeText(d?.registree)} itself`;
  },
  credentialNotBootstrap: ({ context, event }) => {
    const { id, nodeId, credentialId } = configured(context, event);
    const c = credentialOf(event);
    const bootstrap = event.facts.bootstrap?.context as CredentialContext | undefined;
    const registeredWith = nodeOf(event)?.bootstrapCredentialId;
    return saying(
      `association ${id} is authenticated with a credential from enrolment, never with node ${nodeId}'s bootstrap (factory) credential or its key (seed 003, 11.3.2)`,
      [
        ...(c?.purpose === 'bootstrap' ? [`credential ${credentialId} has purpose bootstrap`] : []),
        ...(registeredWith !== undefined && registeredWith === credentialId ? [`credential ${credentialId} is the one node ${nodeId} registered with`] : []),
        ...(c?.fingerprint !== undefined && bootstrap?.fingerprint === c.fingerprint
          ? [`credential ${credentialId} carries the key of node ${nodeId}'s bootstrap credential ${bootstrap.credentialId ?? registeredWith}`]
          : []),
      ],
    );
  },
  subscriptionServes: ({ context, event }) => {
    const { id, nodeId } = configured(context, event);
    const s = event.facts.subscription;
    const subscriptionId = nodeOf(event)?.subscriptionId ?? (s?.context as SubscriptionContext | undefined)?.subscriptionId;
    return saying(
      `association ${id} is made while node ${nodeId}'s subscription is active and within its validity (seed 003, 11.2.1)`,
      [
        subscriptionId === undefined && s === undefined
          ? `node ${nodeId} names no subscription`
          : `subscription ${subscriptionId} ${standing(s)}${s === undefined ? '' : `, ${windowText(s.context as unknown as SubscriptionContext)}, and this is ${instant(event.at)}`}`,
      ],
    );
  },
  endsWithinSubscription: ({ context, event }) => {
    const { id, nodeId } = configured(context, event);
    const expiresAt = dataOf(event, 'AssociationEstablished')?.expiresAt;
    const s = event.facts.subscription?.context as Partial<SubscriptionContext> | undefined;
    const endsAt = instant(s?.notAfter);
    return (
      `association ${id} is established only if it expires by the end of node ${nodeId}'s subscription (seed 003, 11.2.1); ` +
      `it expires at ${expiresAt === undefined ? '(none)' : instant(ms(expiresAt))}, and subscription ${nodeOf(event)?.subscriptionId ?? s?.subscriptionId} ends at ${endsAt}: ` +
      `establish it with expiresAt at or before ${endsAt}`
    );
  },
  credentialBelongsToRegistree: ({ context, event }) => {
    const { id, nodeId, credentialId, registree } = configured(context, event);
    const c = credentialOf(event);
    const held = registree?.kind !== 'cse' || nodeHoldsCseId(event.facts.node, registree.id);
    return saying(
      `association ${id} uses a credential of its Registree ${registreeText(registree)} on node ${nodeId}: the node's, the CSE's held by that node, or for an AE its App-ID's or its own (RS-01)`,
      [
        ...(event.facts.credential === undefined ? [`credential ${credentialId} is not recorded`] : [`credential ${credentialId} is owned by ${ownerText(c?.owner)}`]),
        ...(!held ? [`node ${nodeId} ${event.facts.node === undefined ? 'is not recorded' : `holds CSE-ID ${nodeOf(event)?.cseId ?? '(none)'}`}`] : []),
      ],
    );
  },
  nodeEnrolled: ({ context, event }) => {
    const { id, nodeId } = configured(context, event);
    return `association ${id} is made for a node enrolled or associated; node ${nodeId} ${standing(event.facts.node)}`;
  },
  applicationEnrolled: ({ context, event }) => {
    const { id, registree } = configured(context, event);
    const appId = registree?.kind === 'ae' ? registree.appId : undefined;
    return `association ${id} of an AE acts under an App-ID enrolled or associated (seed 003, 11.2.2); App-ID ${appId} ${standing(event.facts.application)}`;
  },
  appCredentialIsEnrolled: ({ context, event }) => {
    const { id, credentialId, registree } = configured(context, event);
    const appId = registree?.kind === 'ae' ? registree.appId : undefined;
    const c = credentialOf(event);
    const enrolledWith = (event.facts.application?.context as ApplicationContext | undefined)?.credentialId;
    return saying(
      `association ${id} of ${registreeText(registree)} authenticates with a credential of its App-ID only if it is of purpose application and the one App-ID ${appId} is enrolled with now, or the successor that one's rotation names now (seed 003, 11.2.2; HLR-212)`,
      [
        ...(c?.purpose !== 'application' ? [`credential ${credentialId} has purpose ${c?.purpose ?? '(none)'}`] : []),
        ...(credentialId !== enrolledWith ? [`credential ${credentialId} is not the one App-ID ${appId} is enrolled with${c?.predecessorId === undefined ? '' : `, and its predecessor is ${c.predecessorId}`}`] : []),
        // Review 258: a credential naming the enrolled one its predecessor read as if the rule were met.
        ...(c?.predecessorId !== undefined && c.predecessorId === enrolledWith ? [rotationOf(enrolledWith, (event.facts.applicationCredential?.context as CredentialContext | undefined)?.successorId)] : []),
        event.facts.application === undefined
          ? `App-ID ${appId} is not recorded`
          : `App-ID ${appId} is enrolled with ${enrolledWith === undefined ? 'no credential' : `credential ${enrolledWith}`}`,
      ],
    );
  },
  applicationCredentialStands: ({ context, event }) => {
    const { id, registree } = configured(context, event);
    const appId = registree?.kind === 'ae' ? registree.appId : undefined;
    const enrolledWith = (event.facts.application?.context as ApplicationContext | undefined)?.credentialId;
    const view = event.facts.applicationCredential;
    const c = view?.context as CredentialContext | undefined;
    return saying(
      `association ${id} of an AE acts under App-ID ${appId} while the credential it is enrolled with stands: issued, provisioned or associated, and inside its validity (seed 003, 11.2.2)`,
      enrolledWith === undefined
        ? [`App-ID ${appId} is enrolled with no credential`]
        : view === undefined || c === undefined
          ? [`credential ${enrolledWith} is not recorded`]
          : [
              ...(c.credentialId !== enrolledWith ? [`credential ${c.credentialId} was read, not ${enrolledWith}`] : []),
              ...(!isOneOf(view, ['initialized', 'enrolled', 'associated']) ? [`credential ${enrolledWith} ${standing(view)}`] : []),
              ...(!isWithin(event.at, c) ? [`credential ${enrolledWith} is ${windowText(c)}, and this is ${instant(event.at)}`] : []),
            ],
    );
  },
  lifetimeShorterThanCredential: ({ context, event }) => {
    const { id, credentialId } = configured(context, event);
    const expiresAt = dataOf(event, 'AssociationEstablished')?.expiresAt;
    const c = credentialOf(event);
    return `association ${id} expires after this instant ${instant(event.at)} and before its credential's notAfter (seed 003, 11.3.2); it expires at ${expiresAt === undefined ? '(none)' : instant(ms(expiresAt))}, and credential ${credentialId} ${c === undefined ? 'is not recorded' : `has notAfter ${instant(c.notAfter)}`}`;
  },
  endsWithinOverlap: ({ context, event }) => {
    const { id, credentialId } = configured(context, event);
    const expiresAt = dataOf(event, 'AssociationEstablished')?.expiresAt;
    const c = credentialOf(event);
    return (
      `association ${id} is established only if it expires by the end of its credential's rotation overlap, where the credential hands over to its successor (HLR-212, seed 003 11.3.2); ` +
      `it expires at ${expiresAt === undefined ? '(none)' : instant(ms(expiresAt))}, and the overlap of credential ${credentialId} onto ${c?.successorId ?? '(none)'} ends at ${instant(c?.overlapEndsAt)}: ` +
      `establish it with expiresAt at or before ${instant(c?.overlapEndsAt)}, or on the successor`
    );
  },
  expiryReached: ({ context, event }) =>
    `association ${context.associationId} expires at or after its expiresAt; it expires at ${instant(context.expiresAt)}, and this is ${instant(event.at)}`,
  registreeMovedAway: ({ context, event }) => {
    const { id, nodeId, credentialId, registree } = configured(context, event);
    const c = credentialOf(event);
    const reasonOf = (r: string | undefined) => (r === undefined ? '' : ` as ${r}`);
    return (
      `association ${id} is revoked as affiliationChanged once node ${nodeId} no longer holds its Registree's CSE-ID, or when its node or credential was revoked as that (RS-01); ` +
      `node ${nodeId} holds CSE-ID ${registree?.id} and ${standing(event.facts.node)}${reasonOf(nodeOf(event)?.revocationReason)}, ` +
      `and credential ${credentialId} ${standing(event.facts.credential)}${reasonOf(c?.revocationReason)}`
    );
  },
};

/** The rules that read the AE's App-ID themselves, and say so when it is not recorded. */
const NAMES_THE_APP_ID = new Set(['applicationEnrolled', 'appCredentialIsEnrolled', 'applicationCredentialStands']);

/**
 * An AE Registree's App-ID that is not recorded (its application fact, read at configuration and establishment, is
 * undefined), or undefined when it is or the Registree is none. Review 249: an AE of App-ID Rnone, never registered,
 * on a credential of Rbilling's was refused "credential … is owned by app:Rbilling" by credentialBelongsToRegistree,
 * which decides before applicationEnrolled: the guards' order names the rule a stored event's finding names, so the
 * words of whichever rule refuses first say it instead.
 */
const appIdNotRecorded = (context: AssociationContext, event: MachineEvent): string | undefined => {
  if (event.type !== 'AssociationConfigured' && event.type !== 'AssociationEstablished') return undefined;
  const { registree } = configured(context, event);
  if (registree?.kind !== 'ae' || event.facts.application !== undefined) return undefined;
  return `App-ID ${registree.appId} is not recorded (an AE acts under a registered and enrolled App-ID, seed 003, 11.2.2)`;
};

/** What the rotation of the credential an App-ID is enrolled with names now, as appCredentialIsEnrolled reads it. */
const rotationOf = (enrolledWith: string, successorId: string | undefined): string =>
  successorId === undefined ? `no rotation of credential ${enrolledWith} stands` : `the rotation of credential ${enrolledWith} names credential ${successorId}`;

export const associationRefusals: RefusalReasons<AssociationContext> = Object.fromEntries(
  Object.entries(ownRefusals).map(([rule, reason]) => [
    rule,
    NAMES_THE_APP_ID.has(rule)
      ? reason
      : (args: { context: AssociationContext; event: MachineEvent }) => {
          const own = reason(args);
          const app = appIdNotRecorded(args.context, args.event);
          return app === undefined ? own : own === undefined ? app : `${own}; ${app}`;
        },
  ]),
);
