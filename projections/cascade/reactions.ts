import type { DecodedEvent } from '../../domain/stored.ts';
import type { RevocationReason } from '../../domain/events/index.ts';
import type { EntityKind } from '../../domain/streams.ts';
import { BrokenHistoryError, enrolmentEndReason } from '../../machines/index.ts';
import type { AssociationLinks } from './associations.ts';
import type { Relation } from './dependents.ts';
import type { IdentifierKind } from './identifiers.ts';

/** A command the process manager will issue, before ids and metadata are attached. */
export interface Reaction {
  readonly type: string;
  readonly data: Record<string, unknown>;
  /** Issued instead when the target's machine refuses this one (on the same target). */
  readonly otherwise?: Reaction;
}

/**
 * One dependent whose reactions could not be worked out: a lookup for it met a broken history. It becomes a dead
 * letter naming that stream, on its own: the event's other dependents are reacted to as usual (found in review: one
 * broken successor left an App-ID enrolled with an expired credential, and an association configured on it).
 */
export interface Unresolved {
  readonly unresolved: BrokenHistoryError;
}

/** What follows from an event, dependent by dependent. */
export type Outcome = Reaction | Unresolved;

export const isUnresolved = (x: unknown): x is Unresolved => typeof x === 'object' && x !== null && 'unresolved' in x;

/** A dependent's lookup, or the broken history it met; any other failure is no one dependent's and propagates. */
const orUnresolved = async <T>(lookup: () => Promise<T>): Promise<T | Unresolved> => {
  try {
    return await lookup();
  } catch (error) {
    if (error instanceof BrokenHistoryError) return { unresolved: error };
    throw error;
  }
};

/**
 * The lookups a reaction needs, as of the event it reacts to: the cascade's own read model, which holds every
 * event before it (issue 15 item 5). That is enough in global order: a parent that ends before the event is seen
 * here, one that ends after it finds the event's entity among its dependents when its own ending is handled.
 */
export interface ReactionContext {
  dependents(parent: string, relation: Relation): string[];
  /** What the association derives from and whether it was established. */
  association(id: string): Promise<AssociationLinks>;
  /** When the entity has ended: the reason a dependent inherits (its revocation reason, or cessation when it expired). */
  ended(kind: EntityKind, id: string): Promise<RevocationReason | undefined>;
  /** The node (and App-ID) a CSE-ID or AE-ID belongs to, as ids; undefined while no event has said. */
  ownerOf(kind: IdentifierKind, id: string): { readonly nodeId: string; readonly appId?: string } | undefined;
  /** Credentials (stream ids) issued to a CSE-ID or AE-ID while no event had said whose it is. */
  waitingFor(kind: IdentifierKind, id: string): string[];
  /** The CSE-ID a credential that names its node was issued to (review 44); undefined for any other credential. */
  cseIdOfCredential(credentialId: string): string | undefined;
  /**
   * The CSE-ID of the node's latest enrolment, as of the event; undefined before its first (an association stored
   * after its node moved to another CSE-ID is re-checked on arrival against it).
   */
  cseIdOf(nodeId: string): string | undefined;
  /**
   * The CSE-ID the node holds now (read from the engine, not as of the event): a rebuild, or a cascade that is
   * behind, must not revoke an association under a CSE-ID the node has come back to since (A, then B, then A again).
   * A hint only: the association's machine decides it again at the commit (registreeMovedAway, RS-01).
   */
  cseIdHeldNow(nodeId: string): Promise<string | undefined>;
  /** The App-IDs (ids) enrolled with this credential, as of the event. */
  applicationsEnrolledWith(credentialId: string): string[];
  /**
   * The credential that took over from this one by rotation and is held now, of the App-ID's own (following the
   * rotations' chain past successors superseded in turn); undefined when there is none.
   */
  successorInUse(credentialId: string, appId: string): Promise<string | undefined>;
}

export const idOf = (streamId: string): string => streamId.slice(streamId.indexOf('-') + 1);

const revokeAssociations = (streams: readonly string[], reason: RevocationReason): Reaction[] =>
  streams.map((s) => ({ type: 'revokeAssociation', data: { associationId: idOf(s), reason } }));

/** Bookkeeping on the entities an association derives from, so their machines know it is alive (or not). */
const bookkeeping = (verb: 'record' | 'release', associationId: string, a: AssociationLinks): Reaction[] => {
  const out: Reaction[] = [];
  if (a.credentialId !== undefined) {
    out.push({ type: `${verb}CredentialAssociation`, data: { credentialId: a.credentialId, associationId } });
  }
  if (a.nodeId !== undefined) out.push({ type: `${verb}NodeAssociation`, data: { nodeId: a.nodeId, associationId } });
  if (a.application !== undefined) {
    out.push(
      verb === 'record'
        ? { type: 'recordApplicationInstance', data: { appId: a.application.appId, aeId: a.application.aeId, associationId } }
        : { type: 'releaseApplicationInstance', data: { appId: a.application.appId, associationId } },
    );
  }
  return out;
};

/**
 * The App-IDs enrolled with a credential that ended lose their authorisation with it (seed 003 11.2.2), except
 * through a rotation: superseded by a successor of the App-ID's own that is held, or expired while its rotation to
 * one stood, they move onto it; the end follows if the App-ID's machine refuses the move (the successor ended or
 * left its validity meanwhile), so an App-ID is never left enrolled with an ended credential. A supersession with
 * nothing to move onto ends the instances' access for cessation of operation: they were not superseded.
 */
const applicationsOfEnded = async (ctx: ReactionContext, credentialId: string, reason: RevocationReason | 'expired'): Promise<Outcome[]> => {
  const out: Outcome[] = [];
  const inherited = enrolmentEndReason(reason);
  for (const appId of ctx.applicationsEnrolledWith(credentialId)) {
    const end: Reaction = { type: 'endApplicationEnrolment', data: { appId, credentialId, reason: inherited } };
    const successor = reason === 'superseded' || reason === 'expired' ? await orUnresolved(() => ctx.successorInUse(credentialId, appId)) : undefined;
    if (isUnresolved(successor)) {
      // A rotation whose history cannot be read is nothing to move onto (no one can say the successor is held), and
      // staying enrolled with an ended credential is what seed 003 11.2.2 forbids: the enrolment ends, as for a
      // successor not held, and the broken stream is left to an operator.
      out.push(successor, end);
    } else {
      out.push(successor === undefined ? end : { type: 'enrolApplication', data: { appId, credentialId: successor, replaces: credentialId }, otherwise: end });
    }
  }
  return out;
};

/**
 * Whether a node, or else an App-ID, has ended, and why. One at a time, when reached: a lookup started and never
 * awaited would reject unobserved (fuzz-stored-events).
 */
const endedOwner = async (ctx: ReactionContext, nodeId: string | undefined, appId: string | undefined): Promise<RevocationReason | undefined> =>
  (nodeId === undefined ? undefined : await ctx.ended('node', nodeId)) ?? (appId === undefined ? undefined : await ctx.ended('application', appId));

/** The first parent of an association that has ended, and why: the association must end with it. */
const endedParent = async (links: AssociationLinks, ctx: ReactionContext): Promise<RevocationReason | undefined> =>
  (links.credentialId === undefined ? undefined : await ctx.ended('credential', links.credentialId)) ??
  (await endedOwner(ctx, links.nodeId, links.application?.appId));

/**
 * RS-01: a CSE Registree is the CSE-ID its node holds now (the association machine's registreeHeldByNode). A node
 * enrolled again under another CSE-ID (a device replacement hands the old one to another node) leaves its live
 * associations under the old one bound to an identity that is no longer its own: configured ones could never be
 * established and would stay configured for good, established ones would stay alive beside the new holder's. They
 * are revoked as `affiliationChanged` (RFC 5280 5.3.1; X.509: the subject's name or other information changed, with
 * no cause to suspect compromise): the Registree's identity moved, nothing was compromised (not `keyCompromise`), no
 * association took this one's place (not `superseded`, which this engine reads as a rotation onto a successor), and
 * the node goes on operating (not `cessationOfOperation`). Re-enrolled under the same CSE-ID (a change of
 * subscription, RS-17) the node keeps them. An AE Registree holds no CSE-ID of its node's (its credential's owner
 * binds it), so AE associations are left alone.
 */
const associationsUnderAnotherCse = async (ctx: ReactionContext, node: string, cseId: string): Promise<Outcome[]> => {
  const out: Outcome[] = [];
  let heldNow: Promise<string | undefined> | undefined;
  for (const s of ctx.dependents(node, 'association-of-node')) {
    const associationId = idOf(s);
    // Ended ones stay as they ended: only what is still configured or established is bound to the old CSE-ID.
    if ((await ctx.ended('association', associationId)) !== undefined) continue;
    const links = await orUnresolved(() => ctx.association(associationId));
    if (isUnresolved(links)) out.push(links);
    else if (links.cseId !== undefined && links.cseId !== cseId && links.cseId !== (await (heldNow ??= ctx.cseIdHeldNow(idOf(node))))) {
      // Found in review: a node moved back to the association's CSE-ID since (A, B, A) holds it again, and the machine
      // let it establish there; only a CSE-ID the node holds neither at this event nor now is gone from it. This read
      // only spares a command: the node may come back between it and the commit (review 31), so the association's
      // machine reads the node again at the commit (registreeMovedAway) and refuses; the refusal is skipped (an
      // illegal transition, process-manager.ts), not a dead letter: the association stays, its node holds its CSE-ID.
      out.push(...revokeAssociations([s], CSE_ID_MOVED));
    }
  }
  return out;
};

/**
 * Review 44 (RS-01): a credential issued to a CSE-ID that names its node is that node's as the holder of that CSE-ID.
 * Certificates carry the CSE-ID (a `urn:onem2m:cse:` SAN), so a node enrolled again under another one leaves it
 * naming an identity the node no longer holds, which the next holder of the CSE-ID would be issued a credential for
 * beside it. It is revoked as `affiliationChanged`, as the node's associations under the old CSE-ID are (see
 * associationsUnderAnotherCse for the reason). Unlike an association it is revoked even when the node has come back
 * to that CSE-ID since (A, B, A): the CSE-ID was free for another node meanwhile, and a revoked credential is final,
 * so a rebuild and a cascade that is behind decide alike. Ended ones stay as they ended. A credential stored without
 * a node follows the identifier's holder, as it did.
 */
const credentialsUnderAnotherCse = async (ctx: ReactionContext, node: string, cseId: string): Promise<Reaction[]> => {
  const out: Reaction[] = [];
  for (const s of ctx.dependents(node, 'credential-of-node')) {
    const credentialId = idOf(s);
    const issuedTo = ctx.cseIdOfCredential(credentialId);
    if (issuedTo === undefined || issuedTo === cseId) continue;
    if ((await ctx.ended('credential', credentialId)) !== undefined) continue;
    out.push({ type: 'revokeCredential', data: { credentialId, reason: CSE_ID_MOVED } });
  }
  return out;
};

/** Why an association under a CSE-ID its node no longer holds is revoked (see associationsUnderAnotherCse). */
const CSE_ID_MOVED: RevocationReason = 'affiliationChanged';

/**
 * What follows from an event: the revocation cascade (credential -> associations and the enrolments of the App-IDs
 * enrolled with it; node -> credentials and associations; App-ID, or its enrolment's end -> its instances'
 * associations, seed 003 11.2.2), subscription end -> node enrolments,
 * a node's re-enrolment under another CSE-ID -> its associations and credentials under the old one (RS-01),
 * and the association bookkeeping. Pure over its lookups.
 */
export const reactionsTo = async (e: DecodedEvent, ctx: ReactionContext): Promise<Outcome[]> => {
  const stream = e.record.streamId;
  const endNode = (reason: RevocationReason): Reaction[] => [
    ...ctx.dependents(stream, 'credential-of-node').map((s) => ({ type: 'revokeCredential', data: { credentialId: idOf(s), reason } })),
    ...revokeAssociations(ctx.dependents(stream, 'association-of-node'), reason),
  ];
  switch (e.event.type) {
    case 'CredentialRevoked':
      return [
        ...revokeAssociations(ctx.dependents(stream, 'association-of-credential'), e.event.data.reason),
        ...(await applicationsOfEnded(ctx, e.event.data.credentialId, e.event.data.reason)),
      ];
    case 'CredentialExpired': {
      // An established association expires before its credential (its lifetime is shorter, by its machine's guard).
      // One configured and never established has no expiry of its own: it ends with the credential, or would stay
      // configured on an expired credential for good (a dangling association).
      const unestablished: string[] = [];
      const unresolved: Unresolved[] = [];
      for (const s of ctx.dependents(stream, 'association-of-credential')) {
        const links = await orUnresolved(() => ctx.association(idOf(s)));
        if (isUnresolved(links)) unresolved.push(links);
        else if (!links.established) unestablished.push(s);
      }
      return [
        ...unresolved,
        ...revokeAssociations(unestablished, 'cessationOfOperation'),
        ...(await applicationsOfEnded(ctx, e.event.data.credentialId, 'expired')),
      ];
    }
    case 'NodeRevoked':
      return endNode(e.event.data.reason);
    case 'NodeEnrolmentExpired':
      // The node's enrolment ended with its subscription and expired is final: nothing of it may stay in use.
      return endNode('cessationOfOperation');
    case 'ApplicationRevoked': {
      const { reason } = e.event.data;
      return [
        ...revokeAssociations(ctx.dependents(stream, 'association-of-application'), reason),
        ...ctx.dependents(stream, 'credential-of-application').map((s) => ({ type: 'revokeCredential', data: { credentialId: idOf(s), reason } })),
      ];
    }
    case 'ApplicationEnrolmentEnded':
      // Its instances lose access as when the App-ID is revoked; the App-ID and its own credentials stay.
      return revokeAssociations(ctx.dependents(stream, 'association-of-application'), e.event.data.reason);
    case 'SubscriptionExpired':
    case 'SubscriptionTerminated': {
      const subscriptionId = e.event.data.subscriptionId;
      return ctx
        .dependents(stream, 'node-of-subscription')
        .map((s) => ({ type: 'expireNodeEnrolment', data: { nodeId: idOf(s), subscriptionId } }));
    }
    // A store without conditions across streams (or a raced import) can hold a fact stored just after its parent
    // ended. These re-checks against the parents' endings before the event close each such race.
    case 'CredentialIssued': {
      const { owner, credentialId } = e.event.data;
      let reason: RevocationReason | undefined;
      if (owner.kind === 'node') reason = await ctx.ended('node', owner.id);
      else if (owner.kind === 'app') reason = await ctx.ended('application', owner.id);
      // A CSE-ID's credential that names its node (review 41) follows that node alone, while it holds the CSE-ID
      // (review 44: decided before the node's re-enrolment under another, stored after it, it is revoked on arrival).
      else if (owner.kind === 'cse' && owner.nodeId !== undefined) {
        const held = ctx.cseIdOf(owner.nodeId);
        reason = (await ctx.ended('node', owner.nodeId)) ?? (held !== undefined && held !== owner.id ? CSE_ID_MOVED : undefined);
      } else {
        // An AE-ID's that names its App-ID follows it (review 41), and the nodes its instance runs on, none of which
        // has ended (an ended node is no longer one it runs on; review 49). A CSE's or AE's credential stored without
        // its holder follows the node (and App-ID) its identifier belongs to, as far as the log has said yet.
        if (owner.kind === 'ae' && owner.appId !== undefined) reason = await ctx.ended('application', owner.appId);
        else {
          const of = ctx.ownerOf(owner.kind, owner.id);
          if (of !== undefined) reason = await endedOwner(ctx, of.nodeId, of.appId);
        }
      }
      return reason === undefined ? [] : [{ type: 'revokeCredential', data: { credentialId, reason } }];
    }
    case 'ApplicationEnrolled': {
      const { appId, credentialId } = e.event.data;
      const reason = await ctx.ended('credential', credentialId);
      return reason === undefined ? [] : [{ type: 'endApplicationEnrolment', data: { appId, credentialId, reason: enrolmentEndReason(reason) } }];
    }
    case 'NodeEnrolled': {
      const { nodeId, subscriptionId, cseId } = e.event.data;
      const enrolment: Reaction[] =
        (await ctx.ended('subscription', subscriptionId)) === undefined ? [] : [{ type: 'expireNodeEnrolment', data: { nodeId, subscriptionId } }];
      return [...enrolment, ...(await associationsUnderAnotherCse(ctx, stream, cseId)), ...(await credentialsUnderAnotherCse(ctx, stream, cseId))];
    }
    case 'AssociationConfigured': {
      const { associationId, credentialId, nodeId, registree } = e.event.data;
      const links: AssociationLinks = {
        credentialId,
        nodeId,
        ...(registree.kind === 'ae' ? { application: { appId: registree.appId, aeId: registree.id } } : {}),
        established: false,
      };
      const reason = await endedParent(links, ctx);
      // Decided against the node before its re-enrolment under another CSE-ID, stored after it (a decision judged at
      // its claims, or a raced import): the re-enrolment's reaction could not see it, so it is revoked on arrival.
      const held = registree.kind === 'cse' ? ctx.cseIdOf(nodeId) : undefined;
      const revocation = reason ?? (held !== undefined && held !== registree.id ? CSE_ID_MOVED : undefined);
      const association = revocation === undefined ? [] : revokeAssociations([`association-${associationId}`], revocation);
      // The association says whose its registree is: the credentials waiting for that follow the node (and App-ID),
      // which may have ended already (an import raced): then they end with it, as if linked before.
      // (No parent ended: neither did the owner, which endedParent has looked at.)
      // An instance's credentials wait for no configuration: they follow its establishments only (review 49).
      const waiting = ctx.waitingFor(registree.kind, registree.id);
      if (waiting.length === 0 || reason === undefined) return association;
      const ownerEnded = await endedOwner(ctx, nodeId, registree.kind === 'ae' ? registree.appId : undefined);
      return ownerEnded === undefined
        ? association
        : [...association, ...waiting.map((s) => ({ type: 'revokeCredential', data: { credentialId: idOf(s), reason: ownerEnded } }))];
    }
    case 'AssociationEstablished': {
      const associationId = e.event.data.associationId;
      const links = await ctx.association(associationId);
      const reason = await endedParent(links, ctx);
      if (reason !== undefined) return revokeAssociations([`association-${associationId}`], reason);
      return bookkeeping('record', associationId, links);
    }
    case 'AssociationRevoked':
    case 'AssociationExpired': {
      const associationId = e.event.data.associationId;
      const links = await ctx.association(associationId);
      return links.established ? bookkeeping('release', associationId, links) : [];
    }
    default:
      return [];
  }
};

export const CASCADE_EVENT_TYPES = [
  'CredentialIssued',
  'CredentialRevoked',
  'NodeEnrolled',
  'NodeRevoked',
  'NodeEnrolmentExpired',
  'ApplicationRevoked',
  'ApplicationEnrolled',
  'ApplicationEnrolmentEnded',
  'SubscriptionExpired',
  'SubscriptionTerminated',
  'AssociationConfigured',
  'AssociationEstablished',
  'AssociationRevoked',
  'AssociationExpired',
  'CredentialExpired',
] as const;
