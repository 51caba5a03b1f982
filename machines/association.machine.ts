import { and, assign, setup } from 'xstate';
import type { Registree, RevocationReason } from '../domain/events/index.ts';
import type { AssociationContext, CredentialContext, NodeContext } from './contexts.ts';
import {
  appCredentialIsEnrolled, credentialUsableAt, dataOf, endsBySubscription, factGuard, isOneOf, ms, registreeApplicationCredentialStands, registreeApplicationEnrolled, registreeHeldByNode, subscriptionServesAt,
} from './guards.ts';
import type { EntityView, MachineEvent } from './types.ts';

/**
 * Whom the association is for: the configuration's own data, or once configured what the machine kept of it, so the
 * rules on the Registree are decided again at establishment against the facts as they stand then.
 */
const configurationOf = (
  context: AssociationContext,
  event: MachineEvent,
): { readonly nodeId: string; readonly registree: Registree; readonly credentialId?: string | undefined } | undefined => {
  const configured = dataOf(event, 'AssociationConfigured');
  if (configured !== undefined) return configured;
  const { nodeId, registree, credentialId } = context;
  return nodeId !== undefined && registree !== undefined ? { nodeId, registree, credentialId } : undefined;
};

/** Whether the entity (the association's node or credential) was revoked for this reason, which its associations inherit. */
const revokedAs = (view: EntityView | undefined, reason: RevocationReason): boolean =>
  isOneOf(view, ['revoked']) && (view!.context as { readonly revocationReason?: RevocationReason }).revocationReason === reason;

/**
 * Security association between a Registree (CSE or AE) and its Registrar CSE (seed 003, 11.3):
 * Association Configuration (initialized) -> Association Handshake (associated) -> expired or revoked.
 */
export const associationMachine = setup({
  types: { context: {} as AssociationContext, events: {} as MachineEvent, input: {} as { id: string } },
  guards: {
    credentialUsable: factGuard(({ event }) => credentialUsableAt(event.facts.credential, event.at)),
    /**
     * Seed 003, 11.3.2: a security association is authenticated with "the credentials resulting from the M2M Node and
     * M2M application enrolment procedures", never with the node's bootstrap (factory) credential, which exists to
     * provision those (found in review: a long-lived factory credential gave service access directly).
     */
    credentialNotBootstrap: factGuard(({ event }) => {
      if ((event.facts.credential?.context as CredentialContext | undefined)?.purpose === 'bootstrap') return false;
      // The node's factory credential is the one it registered with, whatever purpose it was issued under (found in
      // review: issued as `service`, the node's bootstrap credential passed a check of the purpose alone).
      const configured = dataOf(event, 'AssociationConfigured');
      if (configured !== undefined && (event.facts.node?.context as NodeContext | undefined)?.bootstrapCredentialId === configured.credentialId) return false;
      // The factory key issued again under another id is still the factory key (found in review): the same
      // fingerprint as the node's bootstrap credential is refused as the credential itself is.
      const fingerprint = (event.facts.credential?.context as CredentialContext | undefined)?.fingerprint;
      return fingerprint === undefined || (event.facts.bootstrap?.context as CredentialContext | undefined)?.fingerprint !== fingerprint;
    }),
    /**
     * Seed 003, 11.2.1: M2M service provisioning, and so every association built on it, "assumes the existence of an
     * M2M service subscription". The node's subscription itself is read (a fact named by the node), active and within
     * its validity at this instant: a terminated or lapsed subscription leaves its nodes enrolled until the cascade
     * ends their enrolments, and no association is configured or completed in that window (found in review: only the
     * Registrar checked it, so an operator's command or a handshake finishing after the termination passed).
     */
    subscriptionServes: factGuard(({ event }) => subscriptionServesAt(event.facts.subscription, event.at)),
    /**
     * Seed 003, 11.2.1 (review 197): an association is established only if it expires by the end of its node's
     * subscription, read from the same fact as subscriptionServes, so a lapse and its expiry coincide: with the
     * service up the cascade revoked it at the lapse, after a downtime the one tick expired it first. The Registrar
     * cuts its grant to the subscription's end already (registrar-runs.ts credentialEnd); an operator's
     * establishAssociation did not, nor did an AE's on an App-ID credential, which no subscription bounds.
     */
    endsWithinSubscription: factGuard(({ event }) => {
      const d = dataOf(event, 'AssociationEstablished');
      return d !== undefined && endsBySubscription(ms(d.expiresAt), event.facts.subscription);
    }),
    /**
     * The credential belongs to this Registree (RS-01): its node, its CSE, or for an AE its App-ID or AE-ID. One
     * node's credential never authenticates another's association, and a CSE Registree is the node's own CSE: the
     * CSE-ID it holds now (registreeHeldByNode), so revoking the node reaches every association made in its name.
     * Decided at configuration and again at establishment (found in review: a node re-enrolled under a new CSE-ID
     * completed the handshake of an association configured under its old one, since given to another node). Which of
     * its App-ID's credentials an AE's association may use is appCredentialIsEnrolled's (review 249).
     */
    credentialBelongsToRegistree: factGuard(({ context, event }) => {
      const d = configurationOf(context, event);
      const owner = (event.facts.credential?.context as CredentialContext | undefined)?.owner;
      if (d === undefined || owner === undefined) return false;
      if (!registreeHeldByNode(event.facts.node, d.registree)) return false;
      if (owner.kind === 'node') return owner.id === d.nodeId;
      // A CSE-ID's credential names the node it was issued to and an AE-ID's the App-ID (review 41): it is that
      // node's and that App-ID's only, never the next holder's of the identifier (a node renumbered hands its old
      // CSE-ID on; another App-ID may name an AE alike). One stored before owners named them is judged as it was.
      if (owner.kind === 'cse') return d.registree.kind === 'cse' && owner.id === d.registree.id && (owner.nodeId === undefined || owner.nodeId === d.nodeId);
      if (d.registree.kind !== 'ae') return false;
      if (owner.kind === 'app') return owner.id === d.registree.appId;
      return owner.kind === 'ae' && owner.id === d.registree.id && (owner.appId === undefined || owner.appId === d.registree.appId);
    }),
    /**
     * Seed 003 11.3: a security association is between a Registree and its Registrar CSE, another CSE than itself
     * (review 165: node meter-1's CSE-ID /cse-meter-1 was accepted as the Registrar of Registree /cse-meter-1). Read
     * from the configuration's own data; marked as a fact guard all the same so that a trusted rebuild skips it: one
     * stored before this rule still loads (the cascade and an operator can revoke it), and replay flags it.
     */
    registrarIsNotRegistree: factGuard(({ event }) => {
      const d = dataOf(event, 'AssociationConfigured');
      return d !== undefined && d.registrarCseId !== d.registree.id;
    }),
    nodeEnrolled: factGuard(({ event }) => isOneOf(event.facts.node, ['enrolled', 'associated'])),
    /**
     * Seed 003, 11.2.2: an AE Registree acts under an enrolled App-ID, at configuration and again at establishment
     * (found in review: a handshake was recorded for an App-ID revoked meanwhile, before the cascade revoked the
     * association); a CSE Registree needs no application.
     */
    applicationEnrolled: factGuard(({ context, event }) => {
      const d = configurationOf(context, event);
      return d !== undefined && registreeApplicationEnrolled(event.facts.application, d.registree);
    }),
    /**
     * Seed 003, 11.2.2: "each application identified by an App-ID is then associated with a security credential",
     * the one `application enrol` binds it to, so a credential owned by the App-ID authenticates its AEs only if it
     * is of purpose application and the one the App-ID is enrolled with now (the application fact's credentialId), at
     * configuration and again at establishment. Review 249 (machines v10): credentialBelongsToRegistree took any
     * credential owned by `app:<App-ID>`: one of purpose service (which enrolment refuses, credentialIsForThisApp), one
     * the App-ID was never enrolled with, and the one it was moved off by a move (`--replaces`) all authenticated its
     * AEs. A rule of its own, not a condition of credentialBelongsToRegistree, so that replay names it as newer than
     * the events earlier versions stored (RULES_SINCE). An AE-ID's own credential, a node's and a CSE's are not this
     * rule's: credentialBelongsToRegistree decides them as before.
     */
    appCredentialIsEnrolled: factGuard(({ context, event }) => {
      const d = configurationOf(context, event);
      return d === undefined || appCredentialIsEnrolled(event.facts.credential, event.facts.application, event.facts.applicationCredential, d.credentialId);
    }),
    /**
     * Seed 003, 11.2.2: an App-ID's authorisation ends with its credential, so an AE Registree's App-ID must be
     * enrolled with a credential that stands at this instant (not ended, inside [notBefore, notAfter)): read as a
     * fact named by the App-ID (machines/facts.ts), at configuration and again at establishment, so replay judges it
     * against the same credential (found in review 26: an AE association was configured under an App-ID whose
     * credential had passed its notAfter, before the expiry scheduler and the cascade ended the enrolment).
     */
    applicationCredentialStands: factGuard(({ context, event }) => {
      const d = configurationOf(context, event);
      return d !== undefined && registreeApplicationCredentialStands(event.facts.application, event.facts.applicationCredential, d.registree, event.at);
    }),
    /**
     * Seed 003, 11.3.2: "The lifetime of a security association shall be shorter than the lifetime of the
     * credential used for authentication from which it is derived": expiresAt - now < notAfter - now.
     */
    lifetimeShorterThanCredential: factGuard(({ event }) => {
      const d = dataOf(event, 'AssociationEstablished');
      const credential = event.facts.credential?.context as CredentialContext | undefined;
      if (d === undefined || credential === undefined) return false;
      const expiresAt = ms(d.expiresAt);
      return expiresAt > event.at && expiresAt < credential.notAfter;
    }),
    /**
     * HLR-212, seed 003 11.3.2: a credential being rotated ends for its associations at the end of the overlap, where
     * it hands over to its successor and the cascade revokes them; an association is established only if it expires by
     * then, read from the credential fact as lifetimeShorterThanCredential reads it. Review 345: the Registrar cuts its
     * grant to the overlap end as it reads the credential at the finish, but a rotation started after that read and
     * before the record let the association outlive the overlap, its device told the longer lifetime. A rule of its
     * own (machines v14), not a condition of lifetimeShorterThanCredential, so that replay names it as newer than the
     * events earlier versions stored (RULES_SINCE).
     */
    endsWithinOverlap: factGuard(({ event }) => {
      const d = dataOf(event, 'AssociationEstablished');
      const overlapEndsAt = (event.facts.credential?.context as CredentialContext | undefined)?.overlapEndsAt;
      return d !== undefined && (overlapEndsAt === undefined || ms(d.expiresAt) <= overlapEndsAt);
    }),
    expiryReached: ({ context, event }) => context.expiresAt !== undefined && event.at >= context.expiresAt,
    /**
     * RS-01 (seed 003 11.3.1: a Registree CSE is configured under its CSE-ID): `affiliationChanged` says a CSE
     * Registree's identity moved (RFC 5280 5.3.1), so it revokes a CSE Registree's association only while its node no
     * longer holds the Registree's CSE-ID (registreeHeldByNode, the rule credentialBelongsToRegistree decides by), read
     * as a fact (machines/facts.ts): the decision holds at its commit and replay judges it as of its position. Found in
     * review 31: the cascade read the node moved to another CSE-ID, the node came back before its revocation committed,
     * and the association was revoked under a CSE-ID its node held again. Whoever sends it: an operator's revocation
     * for another cause has the reason that says so. The reason also comes down unchanged from the association's
     * credential or node revoked as `affiliationChanged` (the cascade carries a parent's reason on, and the node may
     * keep its CSE-ID then): that stays legal. An AE Registree holds no CSE-ID of its node's, and any other reason is
     * not this rule's.
     */
    registreeMovedAway: factGuard(({ context, event }) => {
      const d = dataOf(event, 'AssociationRevoked');
      if (d?.reason !== 'affiliationChanged' || context.registree?.kind !== 'cse') return true;
      if (!registreeHeldByNode(event.facts.node, context.registree)) return true;
      return revokedAs(event.facts.node, d.reason) || revokedAs(event.facts.credential, d.reason);
    }),
  },
  actions: {
    recordRevocation: assign(({ event }) => ({ revocationReason: dataOf(event, 'AssociationRevoked')!.reason })),
  },
}).createMachine({
  id: 'association',
  context: ({ input }) => ({ associationId: input.id }),
  initial: 'absent',
  states: {
    absent: {
      on: {
        AssociationConfigured: {
          target: 'initialized',
          guard: and([
            'registrarIsNotRegistree', 'credentialUsable', 'credentialNotBootstrap', 'nodeEnrolled', 'subscriptionServes', 'credentialBelongsToRegistree',
            'applicationEnrolled', 'appCredentialIsEnrolled', 'applicationCredentialStands',
          ]),
          actions: assign(({ event }) => {
            const d = dataOf(event, 'AssociationConfigured')!;
            return { associationId: d.associationId, nodeId: d.nodeId, registree: d.registree, registrarCseId: d.registrarCseId, credentialId: d.credentialId };
          }),
        },
      },
    },
    initialized: {
      on: {
        AssociationEstablished: {
          target: 'associated',
          guard: and([
            'credentialUsable', 'credentialNotBootstrap', 'nodeEnrolled', 'subscriptionServes', 'endsWithinSubscription', 'credentialBelongsToRegistree',
            'applicationEnrolled', 'appCredentialIsEnrolled', 'applicationCredentialStands', 'lifetimeShorterThanCredential', 'endsWithinOverlap',
          ]),
          actions: assign(({ event }) => ({
            establishedAt: event.at,
            expiresAt: ms(dataOf(event, 'AssociationEstablished')!.expiresAt),
          })),
        },
        AssociationRevoked: { target: 'revoked', guard: 'registreeMovedAway', actions: 'recordRevocation' },
      },
    },
    associated: {
      on: {
        AssociationExpired: { target: 'expired', guard: 'expiryReached' },
        AssociationRevoked: { target: 'revoked', guard: 'registreeMovedAway', actions: 'recordRevocation' },
      },
    },
    expired: { type: 'final' },
    revoked: { type: 'final' },
  },
});
