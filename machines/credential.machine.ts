import { and, assign, setup } from 'xstate';
import type { CredentialPurpose, Owner } from '../domain/events/index.ts';
import type { CredentialContext, NodeContext } from './contexts.ts';
import { associationHasEnded, bootstrapUsableFor, dataOf, endsBySubscription, establishedAssociation, factGuard, isFactoryCredential, isNodeServiceCredential, isOneOf, ms, nodeHoldsCseId, ownerHeldBy, sameOwner, successorHolderMatches, subscriptionServesAt } from './guards.ts';
import { isWithin, type EntityView, type Facts, type MachineEvent } from './types.ts';

const LIVE = ['initialized', 'enrolled', 'associated'];
/**
 * A credential its node holds at `at`: provisioned by then, not ended by then, and within its validity (the expiry
 * scheduler's too). `at` may be past: the context keeps when it was provisioned and when it ended (review 31: the end
 * of a rotation's overlap is judged at overlapEndsAt, not whenever it is recorded). A context kept before these were
 * (a stored view) answers for now only: provisioned and not ended.
 */
export const heldAt = (view: EntityView | undefined, at: number): boolean => {
  const c = view?.context as CredentialContext | undefined;
  if (c === undefined || !(c.notBefore <= at && at < c.notAfter)) return false;
  if (c.provisionedAt === undefined) return isOneOf(view, ['enrolled', 'associated']);
  return c.provisionedAt <= at && (c.endedAt === undefined || at < c.endedAt);
};

/** A credential revoked as superseded by a rotation of its own: it handed over to its successor. */
export const supersededInTurn = (view: EntityView | undefined): boolean => {
  const c = view?.context as CredentialContext | undefined;
  return isOneOf(view, ['revoked']) && c?.revocationReason === 'superseded' && c.successorId !== undefined;
};

/**
 * The instant a rotation's handover is judged at (HLR-212): the end of its overlap, or now while it lasts (an early
 * revocation as superseded). Review 31: judged whenever the scheduler got to it, a successor revoked after the end of
 * the overlap, before the tick, revived the predecessor.
 */
export const handoverInstant = (context: CredentialContext, at: number): number => Math.min(at, context.overlapEndsAt ?? at);

/**
 * How a rotation ends at `at` (HLR-212), the one rule the credential's guards (`handedOver`, `rotationAbandonable`)
 * and the expiry scheduler decide by: 'superseded' when the node holds the successor then, or the successor had
 * handed over by then to one it holds (`chainEnd`: where its chain ends, the `handover` fact); 'abandoned' when it
 * holds neither and the successor did not rotate on (the predecessor stays); 'neither' when the successor handed over
 * down a chain the node does not hold then (the predecessor stays, and may rotate again: successorLinked).
 * A chain whose end was provisioned after `at` while a link between was held then is 'neither': the safe side, the
 * predecessor is never revived by abandonment once a successor superseded in turn (documented in docs/service.md).
 */
export const rotationOutcomeAt = (
  successor: EntityView | undefined,
  chainEnd: EntityView | undefined,
  at: number,
): 'superseded' | 'abandoned' | 'neither' => {
  if (heldAt(successor, at)) return 'superseded';
  if (!supersededInTurn(successor)) return 'abandoned';
  const endedAt = (successor!.context as unknown as CredentialContext).endedAt;
  return (endedAt === undefined || endedAt <= at) && heldAt(chainEnd, at) ? 'superseded' : 'neither';
};

/**
 * The keys a new credential may not carry (keyIsNew): its predecessor's and its node's bootstrap credential's
 * fingerprints, as read (the bootstrap credential itself reads no bootstrap: machines/facts.ts).
 */
export const reusedKeys = (facts: Facts): string[] =>
  [facts.predecessor, facts.bootstrap].flatMap((view) => {
    const fingerprint = (view?.context as CredentialContext | undefined)?.fingerprint;
    return fingerprint === undefined ? [] : [fingerprint];
  });

/**
 * Whether the credential `other` (a rotation's other end, read as a fact) has `purpose` (successorKeepsPurpose). One
 * not recorded, or shown without its purpose (a view no machine made: every context keeps it since its issue), is not
 * this rule's to judge.
 */
const purposeKept = (other: EntityView | undefined, purpose: string | undefined): boolean => {
  const theirs = (other?.context as CredentialContext | undefined)?.purpose;
  return theirs === undefined || theirs === purpose;
};

/**
 * The bootstrap credential id the node holding an issued credential's owner registered with (review 288, 290): read from
 * the owner fact (ownerIsLive's) when that holder is a node, a node's own or the one its CSE-ID names; an App-ID's
 * view names none.
 */
export const registeredBootstrapOf = (event: MachineEvent): string | undefined => {
  const kind = dataOf(event, 'CredentialIssued')?.owner.kind;
  if (kind !== 'node' && kind !== 'cse') return undefined;
  return (event.facts.owner?.context as NodeContext | undefined)?.bootstrapCredentialId;
};

/**
 * The purposes a credential may be issued for, by its owner's kind (review 249, machines v10): a bootstrap credential
 * is a node's pre-existing (factory) credential that remote provisioning authenticates with (seed 003, 11.2.1); an
 * application credential is an App-ID's, the one it is enrolled with (11.2.2), or one of its AEs'; a service
 * credential is what the enrolment procedures give a node, its CSE or an AE to authenticate its associations with
 * (11.3.2). An App-ID authenticates nothing itself: its only credential is its application one.
 */
export const PURPOSES_BY_OWNER: Readonly<Record<Owner['kind'], readonly CredentialPurpose[]>> = {
  node: ['bootstrap', 'service'],
  cse: ['service'],
  app: ['application'],
  ae: ['service', 'application'],
};

/**
 * Credential lifecycle: issued (initialized) -> provisioned into its node (enrolled; pre-provisioning or remote
 * provisioning, seed 003 11.2.1) -> associated while security associations derive from it -> expired at notAfter
 * or revoked (RFC 5280 reasons; a reason raised to keyCompromise later). A rotation (HLR-212, RS-16) links a successor and keeps the predecessor usable
 * until the overlap ends, when it is revoked as superseded if its node held the successor then (rotationOutcomeAt).
 */
export const credentialMachine = setup({
  types: { context: {} as CredentialContext, events: {} as MachineEvent, input: {} as { id: string } },
  guards: {
    validityWindowOrdered: ({ event }) => {
      const d = dataOf(event, 'CredentialIssued');
      return d !== undefined && ms(d.notBefore) < ms(d.notAfter);
    },
    /**
     * Review 249 (machines v10): a credential is issued only for a purpose its owner's kind takes (PURPOSES_BY_OWNER).
     * Nothing checked it: `--purpose application --owner node:meter-1` was issued, provisioned and authenticated a CSE
     * association, and `--purpose bootstrap` was issued to an App-ID and to an AE-ID. Read from the event's own data;
     * marked as a fact guard all the same so that a trusted rebuild skips it: one stored before this rule still loads
     * (the cascade and an operator can revoke it), and replay flags it (RULES_SINCE).
     */
    purposeFitsOwner: factGuard(({ event }) => {
      const d = dataOf(event, 'CredentialIssued');
      return d !== undefined && PURPOSES_BY_OWNER[d.owner.kind].includes(d.purpose);
    }),
    /**
     * A credential is bound to a live owner (RS-01): a node or application that exists and is not revoked or expired;
     * a CSE-ID's to the live node it names, which holds that CSE-ID now, and an AE-ID's to the live App-ID it names
     * (ownerHeldBy; review 41: issued as its holder ended, it outlived it, and went to the identifier's next holder).
     * Issued, and again provisioned (review 165; seed 003 11.2.1, service provisioning only into an enrolled node):
     * only issuing read the owner, so a credential issued before revokeNode or revokeApplication was provisioned after
     * it, until the cascade revoked it. Both read the holder as a fact (machines/facts.ts `owner`), held at the commit.
     * And a rotation's start (review 314, machines v13): it was accepted in that same window, and the log showed a
     * rotation started on a revoked node.
     */
    ownerIsLive: factGuard(({ context, event }) => {
      const owner = event.type === 'CredentialIssued' ? dataOf(event, 'CredentialIssued')?.owner : context.owner;
      return owner !== undefined && ownerHeldBy(event.facts.owner, owner, LIVE);
    }),
    /**
     * Review 288 (machines v11): a node's bootstrap (factory) credential, other than a rotation's successor, is the one its node
     * named at registration, when it named one (read from the owner fact, as ownerIsLive reads it). Another id issued as
     * the bootstrap of a node that registered with one was a second factory credential no hello looks up, and one
     * another node's registration had named (bootstrapNotYetRecorded holds only the other order) was bound to both.
     * Review 290: and the id it named is issued to it (or to its CSE-ID) only as its bootstrap: issued with purpose
     * service, it took the id, and the node could then never be issued its factory credential. An id issued to another
     * node than the one that named it is not seen here (no index of named ids); docs/service.md "Upgrading" says so.
     */
    bootstrapNamedByItsNode: factGuard(({ event }) => {
      const d = dataOf(event, 'CredentialIssued');
      if (d === undefined) return true;
      const named = registeredBootstrapOf(event);
      if (named === undefined) return true;
      if (d.purpose !== 'bootstrap') return d.credentialId !== named;
      return d.owner.kind !== 'node' || d.predecessorId !== undefined || named === d.credentialId;
    }),
    /**
     * Review 290 (machines v11): a node that registered a bootstrap credential keeps it: no successor of purpose
     * bootstrap is issued to it. Remote provisioning authenticates on the registered id alone (bootstrapIsFactoryCredential,
     * and the device hello's lookup), so a rotation onto a successor was accepted and, once the overlap ended with the
     * registered one revoked as superseded, the node could never be remotely provisioned again, with nothing said. A
     * new factory credential is a new device initialisation under a new node id (README "device init"). A node
     * registered without one keeps its rotations (nothing looks a registered id up for it).
     */
    factoryCredentialNotRotated: factGuard(({ event }) => {
      const d = dataOf(event, 'CredentialIssued');
      if (d === undefined || d.purpose !== 'bootstrap' || d.owner.kind !== 'node' || d.predecessorId === undefined) return true;
      return registeredBootstrapOf(event) === undefined;
    }),
    /**
     * A successor takes over from a live predecessor of the same owner (HLR-212), naming no holder its predecessor
     * does not name (successorHolderMatches, review 44).
     */
    predecessorIsLive: factGuard(({ event }) => {
      const d = dataOf(event, 'CredentialIssued');
      if (d?.predecessorId === undefined) return true;
      const predecessor = (event.facts.predecessor?.context as CredentialContext | undefined)?.owner;
      return isOneOf(event.facts.predecessor, ['enrolled', 'associated']) && sameOwner(event.facts.predecessor, d.owner) && successorHolderMatches(predecessor, d.owner);
    }),
    /**
     * Review 238 (machines v9): a successor keeps its predecessor's purpose (HLR-212 secure modification replaces a
     * credential with one for the same use). Judged where the link is made, issued (the predecessor fact's purpose
     * against the issued data's) and rotated (this credential's own against the successor fact's): a service
     * credential named as the bootstrap's successor took over from it at the end of the overlap, and the node, its
     * bootstrap credential revoked as superseded, could never be remotely provisioned again; a bootstrap credential
     * as a service one's successor took the service credential's place. A rule of its own, not a condition of
     * predecessorIsLive or successorLinked, so that replay names it as newer than the events earlier versions stored
     * (RULES_SINCE). A fact not recorded is those rules' refusal; every credential's context keeps its purpose.
     */
    successorKeepsPurpose: factGuard(({ context, event }) => {
      const issued = dataOf(event, 'CredentialIssued');
      if (issued !== undefined) return issued.predecessorId === undefined || purposeKept(event.facts.predecessor, issued.purpose);
      return event.type !== 'CredentialRotationStarted' || purposeKept(event.facts.successor, context.purpose);
    }),
    /**
     * A new credential carries a new key (HLR-212 secure modification, RS-16 key replacement): not its predecessor's,
     * nor its node's factory (bootstrap) key (seed 003, 11.3.2: never service access on the factory key). Review 195:
     * nothing compared them, so a "rotation" onto the old key was recorded and certified, and outlived the
     * predecessor's revocation as keyCompromise. Compared by fingerprint, read where they are recorded (issued): the
     * predecessor and the bootstrap credential its owner's node names (machines/facts.ts). Keys of other credentials,
     * of this node or another, are keyNeverCertified's.
     */
    keyIsNew: factGuard(({ event }) => {
      const d = dataOf(event, 'CredentialIssued');
      return d !== undefined && !reusedKeys(event.facts).includes(d.fingerprint);
    }),
    /**
     * SER-010 (protection against cloning or substitution of credentials): a key is certified once in the fleet. A
     * credential is not issued on a key any other credential was issued on, whatever became of that one: a key cloned
     * onto a second device was certified twice, and revoking one as keyCompromise left the other standing. The other
     * credential is read as the `keyHolder` fact, named by an index of certified keys (machines/facts.ts) rather than by
     * the event: named at all, it refuses, even when its own issue is not recorded (a claim EventStoreDB kept of an
     * append that then failed): the key was offered for it, and the safe side is to take another.
     */
    keyNeverCertified: factGuard(({ event }) => !('keyHolder' in event.facts)),
    notExpiredYet: ({ context, event }) => event.at < context.notAfter,
    notAfterReached: ({ context, event }) => event.at >= context.notAfter,
    /**
     * Remote provisioning authenticated on a bootstrap credential of the same owner that is usable at this instant
     * (seed 003, 11.2.1): provisioned, not ended, and inside its validity window [notBefore, notAfter)
     * (credentialUsableAt). Found in review 26: a bootstrap credential past its notAfter, which the expiry scheduler
     * had not marked expired yet, still authenticated a provisioning.
     */
    bootstrapIsUsable: factGuard(({ context, event }) => {
      const d = dataOf(event, 'CredentialProvisioned');
      if (d?.method !== 'remote-provisioning') return true;
      const bootstrap = event.facts.bootstrap;
      return d.bootstrapCredentialId !== undefined && bootstrapUsableFor(bootstrap, context.owner, event.at);
    }),
    /**
     * Review 288 (machines v11): the credential remote provisioning authenticates on is a bootstrap credential, the one
     * its node registered with when it registered one (isFactoryCredential), not any usable credential of the owner's:
     * a service credential named as the bootstrap was accepted. A rule of its own after bootstrapIsUsable, so that
     * replay names it as newer than what earlier versions stored (RULES_SINCE); a bootstrap not recorded is that rule's.
     */
    bootstrapIsFactoryCredential: factGuard(({ event }) => {
      const d = dataOf(event, 'CredentialProvisioned');
      if (d?.method !== 'remote-provisioning' || event.facts.bootstrap === undefined) return true;
      return isFactoryCredential(event.facts.bootstrap, (event.facts.owner?.context as NodeContext | undefined)?.bootstrapCredentialId);
    }),
    /**
     * Seed 003, 11.2.1: "M2M service provisioning assumes the existence of an M2M service subscription". A node's
     * service credential is put into its node (provisioned) only while the subscription the node is enrolled under
     * itself serves: active and within its validity at this instant, read as a fact named by the node, as the
     * association machine's `subscriptionServes` reads it (found in review: a remote provisioning run authenticated
     * under an active subscription was recorded after its termination, before the cascade ended the enrolment).
     *
     * Why on provisioning only, and only for a node's service credential under a subscription (the narrowest rule
     * that closes it): a credential authenticates nothing until it is provisioned (an association needs it enrolled
     * or associated, `credentialUsable`), so every path to service goes through `CredentialProvisioned`; remote
     * provisioning decides its issue and its provisioning together before appending either (assertWouldRecord), so
     * its refusal still writes nothing. Issuing stays as it was: a credential issued and never provisioned is ended
     * by the cascade with its node's enrolment. A node never enrolled is under no subscription (the factory
     * credential at registration, an operator's credentials for it) and a node's bootstrap credential is its
     * Initialization (seed 004), not service provisioning: both stay legal, and so does every stored history that
     * provisioned only under a serving subscription (the replay suites hold them so).
     */
    subscriptionServes: factGuard(({ context, event }) => {
      if (!isNodeServiceCredential(context)) return true;
      const subscriptionId = (event.facts.owner?.context as NodeContext | undefined)?.subscriptionId;
      return subscriptionId === undefined || subscriptionServesAt(event.facts.subscription, event.at);
    }),
    /**
     * Seed 003, 11.2.1, as subscriptionServes: a node's service credential is provisioned only if its validity ends by
     * the end of the subscription its node is enrolled under (notAfter at or before the subscription's notAfter, read
     * from the same fact). Review 197: an operator's credential outlived its subscription, so a lapse ended it two
     * ways: revoked as cessationOfOperation by the cascade (on the CRL) with the service up, expired unlisted after a
     * downtime whose one tick expired both. Ending by then, a lapse and an expiry coincide. Remote provisioning cuts
     * its validity to the subscription's end already (certificate-issuance.ts validityWithinSubscription). A missing
     * subscription is subscriptionServes's refusal, not this rule's.
     *
     * Judged at issue too, for a node enrolled under a subscription then (review 205): judged at provisioning alone, a
     * credential issued past the end was refused there with its key certified (keyNeverCertified), so the advised
     * re-issue on the device's key was refused and the key burned by a credential never put into service. Refused at
     * issue, nothing is written and the key stays free. A node enrolled after the issue is judged at provisioning.
     */
    endsWithinSubscription: factGuard(({ context, event }) => {
      const issued = dataOf(event, 'CredentialIssued');
      if (!isNodeServiceCredential(issued ?? context)) return true;
      if ((event.facts.owner?.context as NodeContext | undefined)?.subscriptionId === undefined) return true;
      return endsBySubscription(issued !== undefined ? ms(issued.notAfter) : context.notAfter, event.facts.subscription);
    }),
    /**
     * RS-01 (review 44): a credential issued to a CSE-ID that names its node is put into that node only while the node
     * holds that CSE-ID (nodeHoldsCseId, read at the commit): renumbered, the node no longer is that CSE-ID, whose
     * next holder is issued credentials of its own (certificates carry the CSE-ID as a `urn:onem2m:cse:` SAN), and
     * the cascade revokes this one as `affiliationChanged`. One stored without its node is judged as it was.
     */
    cseIdHeldByItsNode: factGuard(({ context, event }) => {
      const owner = context.owner;
      if (owner?.kind !== 'cse' || owner.nodeId === undefined) return true;
      return nodeHoldsCseId(event.facts.owner, owner.id);
    }),
    /**
     * Review 346 (machines v14; RS-17, SER-016, seed 003 11.2.1): a receipt's service parameters (the CSE-ID and
     * M2M-Sub-ID the Enrolment Function read at the auth step, told the device, and signed into the receipt) are its
     * owner node's at the commit: the subscription it is enrolled under and the CSE-ID it holds, read from the owner
     * fact (ownerIsLive's). An operator moving the node (enrolNode onto another subscription, under the same CSE-ID or a
     * new one) between the auth and the receipt had the provisioning recorded with the old ones, and the device served
     * under parameters its node no longer had. Refused, nothing is written; the device runs again under the new ones.
     * Only a v2 receipt names them (a v1 one binds none) and only a node's holder has them (a CSE-ID's credential is
     * read through its node); an owner not read (stored before holders were named) is ownerIsLive's to judge.
     */
    receiptServiceParametersCurrent: factGuard(({ context, event }) => {
      const receipt = dataOf(event, 'CredentialProvisioned')?.receipt;
      if (receipt?.version !== 2 || (context.owner?.kind !== 'node' && context.owner?.kind !== 'cse')) return true;
      const node = event.facts.owner?.context as NodeContext | undefined;
      if (node === undefined) return true;
      return receipt.serviceParameters.m2mSubId === node.subscriptionId && receipt.serviceParameters.cseId === node.cseId;
    }),
    associationIsNew: ({ context, event }) => {
      const id = dataOf(event, 'CredentialAssociated')?.associationId;
      return id !== undefined && !context.liveAssociations.includes(id);
    },
    associationIsLive: ({ context, event }) => {
      const id = dataOf(event, 'CredentialAssociationReleased')?.associationId;
      return id !== undefined && context.liveAssociations.includes(id);
    },
    /**
     * Review 234, as the node's: a record (or release) of an association on this credential is of one established on
     * it (read as a fact, machines/facts.ts), whether it has ended since or not; the id alone let a forged one in.
     */
    associationNamesThisCredential: factGuard(({ context, event }) => establishedAssociation(event.facts.association)?.credentialId === context.credentialId),
    /** A release follows the association's end (the cascade's reaction to its revocation or expiry), never a live one's. */
    associationEnded: factGuard(({ event }) => associationHasEnded(event.facts.association)),
    lastAssociation: ({ context }) => context.liveAssociations.length === 1,
    /**
     * The successor names this credential as its predecessor and was issued for the same owner, and takes over when
     * the overlap ends: the end of the overlap lies within the successor's validity window [notBefore, notAfter)
     * (found in review 26: a successor that ended before the overlap did, or started after it, was linked, and its
     * rotation later abandoned without a word).
     */
    successorLinked: factGuard(({ context, event }) => {
      const d = dataOf(event, 'CredentialRotationStarted');
      const successor = event.facts.successor?.context as CredentialContext | undefined;
      return (
        d !== undefined &&
        // Once: unless the successor an earlier rotation named has ended, which leaves nothing to abandon (its own
        // rotation may have gone on to a successor the node no longer holds either).
        (context.successorId === undefined || isOneOf(event.facts.previousSuccessor, ['expired', 'revoked'])) &&
        isOneOf(event.facts.successor, LIVE) &&
        sameOwner(event.facts.successor, context.owner) &&
        successorHolderMatches(context.owner, successor?.owner) &&
        successor?.predecessorId === context.credentialId &&
        ms(d.overlapEndsAt) > event.at &&
        ms(d.overlapEndsAt) <= context.notAfter &&
        successor !== undefined &&
        isWithin(ms(d.overlapEndsAt), successor)
      );
    }),
    /**
     * Review 221 (machines v6): the overlap ends after the predecessor's notBefore. One ending before held no overlap at
     * all, and the handover then revoked the predecessor, never valid yet, with an invalidity date before its validity
     * began. A rule of its own, not a condition of successorLinked: replay then names it as newer than the events an
     * earlier version stored, and only it (RULES_SINCE). Marked as a fact guard though it reads the event alone (review
     * 356, machines v14): a rotation an earlier version stored so still loads, its credential read, not a broken history.
     */
    overlapEndsAfterNotBefore: factGuard(({ context, event }) => {
      const d = dataOf(event, 'CredentialRotationStarted');
      return d !== undefined && ms(d.overlapEndsAt) > context.notBefore;
    }),
    /**
     * A rotation is given up only while it stands, and only while its node does not hold the successor (provisioned,
     * not ended, within its validity): one it holds supersedes this credential at the end of the overlap, and must
     * itself be revoked first. Nor once the successor was superseded in turn: the rotation went on down its chain.
     */
    rotationAbandonable: factGuard(({ context, event }) => {
      const d = dataOf(event, 'CredentialRotationAbandoned');
      // From the end of the overlap, judged at its end (review 31): a successor held then superseded this credential,
      // whatever became of it since, and an abandonment would revive it.
      return (
        d !== undefined &&
        context.successorId === d.successorId &&
        rotationOutcomeAt(event.facts.successor, undefined, handoverInstant(context, event.at)) === 'abandoned'
      );
    }),
    /**
     * HLR-212: a credential whose rotation stands is revoked as superseded only if its node holds the successor (or
     * where the successor handed over to) at the end of the overlap, or now while the overlap lasts: read as facts, so
     * the decision holds at its commit and replay judges it. Review 31: the expiry scheduler read the successor held,
     * the successor was revoked before its revocation committed, and the node was left with nothing (the scheduler
     * then decides again: the rotation is abandoned). Any other reason, or no rotation, is not this rule's.
     */
    handedOver: factGuard(({ context, event }) => {
      const d = dataOf(event, 'CredentialRevoked');
      if (d?.reason !== 'superseded' || context.successorId === undefined) return true;
      return rotationOutcomeAt(event.facts.successor, event.facts.handover, handoverInstant(context, event.at)) === 'superseded';
    }),
    /**
     * A revoked credential's reason is raised to keyCompromise, once, and to nothing else: its key found compromised
     * after a revocation for another reason (a rotation's `superseded`, the cascade's `cessationOfOperation`). Relying
     * parties act on keyCompromise alone (they distrust what the key signed before the revocation), so the CRLs and OCSP
     * must say it (RFC 5280 5.3.1; CA/Browser Forum Baseline Requirements 4.9.1.1 and 7.2.2 allow the CRL entry's reason
     * to be changed to keyCompromise). Any other change would unsay what relying parties were told; the revocation's
     * instant stands (recordRevocation kept it). Only within the credential's validity, a bound the machine can
     * judge from its own context: the pseudonym fold keeps a revoked credential's holder until then, not for ever
     * (review 210). Past it, the CRL entry and the OCSP answer keep their reason until they leave (review 214).
     */
    raisesToKeyCompromise: ({ context, event }) =>
      dataOf(event, 'CredentialRevoked')?.reason === 'keyCompromise' && context.revocationReason !== 'keyCompromise' && event.at < context.notAfter,
  },
  actions: {
    addAssociation: assign(({ context, event }) => ({
      liveAssociations: [...context.liveAssociations, dataOf(event, 'CredentialAssociated')!.associationId],
    })),
    removeAssociation: assign(({ context, event }) => {
      const id = dataOf(event, 'CredentialAssociationReleased')!.associationId;
      return { liveAssociations: context.liveAssociations.filter((a) => a !== id) };
    }),
    recordRotation: assign(({ event }) => {
      const d = dataOf(event, 'CredentialRotationStarted')!;
      return { successorId: d.successorId, overlapEndsAt: ms(d.overlapEndsAt) };
    }),
    clearRotation: assign(() => ({ successorId: undefined, overlapEndsAt: undefined })),
    recordRevocation: assign(({ event }) => ({ revocationReason: dataOf(event, 'CredentialRevoked')!.reason, endedAt: event.at })),
    // The credential ended at its first revocation: heldAt and the rotation rules read that instant, not the raise's.
    raiseRevocationReason: assign(() => ({ revocationReason: 'keyCompromise' as const })),
    // When it was put into its node and when it ended: whether its node held it at a past instant (heldAt).
    recordProvisioning: assign(({ event }) => ({ provisionedAt: event.at })),
    recordEnd: assign(({ event }) => ({ endedAt: event.at })),
  },
}).createMachine({
  id: 'credential',
  context: ({ input }) => ({ credentialId: input.id, notBefore: 0, notAfter: 0, liveAssociations: [] }),
  initial: 'absent',
  states: {
    absent: {
      on: {
        CredentialIssued: {
          target: 'initialized',
          guard: and(['validityWindowOrdered', 'purposeFitsOwner', 'ownerIsLive', 'bootstrapNamedByItsNode', 'factoryCredentialNotRotated', 'predecessorIsLive', 'successorKeepsPurpose', 'keyIsNew', 'keyNeverCertified', 'endsWithinSubscription']),
          actions: assign(({ event }) => {
            const d = dataOf(event, 'CredentialIssued')!;
            return {
              credentialId: d.credentialId,
              kind: d.kind,
              purpose: d.purpose,
              owner: d.owner,
              fingerprint: d.fingerprint,
              notBefore: ms(d.notBefore),
              notAfter: ms(d.notAfter),
              predecessorId: d.predecessorId,
            };
          }),
        },
      },
    },
    initialized: {
      on: {
        CredentialProvisioned: {
          target: 'enrolled',
          guard: and(['notExpiredYet', 'bootstrapIsUsable', 'bootstrapIsFactoryCredential', 'subscriptionServes', 'endsWithinSubscription', 'cseIdHeldByItsNode', 'ownerIsLive', 'receiptServiceParametersCurrent']),
          actions: 'recordProvisioning',
        },
        CredentialExpired: { target: 'expired', guard: 'notAfterReached', actions: 'recordEnd' },
        CredentialRevoked: { target: 'revoked', actions: 'recordRevocation' },
      },
    },
    enrolled: {
      on: {
        CredentialAssociated: { target: 'associated', guard: and(['associationIsNew', 'associationNamesThisCredential']), actions: 'addAssociation' },
        CredentialRotationStarted: { guard: and(['successorLinked', 'overlapEndsAfterNotBefore', 'successorKeepsPurpose', 'ownerIsLive']), actions: 'recordRotation' },
        CredentialRotationAbandoned: { guard: 'rotationAbandonable', actions: 'clearRotation' },
        CredentialExpired: { target: 'expired', guard: 'notAfterReached', actions: 'recordEnd' },
        CredentialRevoked: { target: 'revoked', guard: 'handedOver', actions: 'recordRevocation' },
      },
    },
    associated: {
      on: {
        CredentialAssociated: { guard: and(['associationIsNew', 'associationNamesThisCredential']), actions: 'addAssociation' },
        CredentialAssociationReleased: [
          { target: 'enrolled', guard: and(['associationIsLive', 'associationNamesThisCredential', 'associationEnded', 'lastAssociation']), actions: 'removeAssociation' },
          { guard: and(['associationIsLive', 'associationNamesThisCredential', 'associationEnded']), actions: 'removeAssociation' },
        ],
        CredentialRotationStarted: { guard: and(['successorLinked', 'overlapEndsAfterNotBefore', 'successorKeepsPurpose', 'ownerIsLive']), actions: 'recordRotation' },
        CredentialRotationAbandoned: { guard: 'rotationAbandonable', actions: 'clearRotation' },
        CredentialExpired: { target: 'expired', guard: 'notAfterReached', actions: 'recordEnd' },
        CredentialRevoked: { target: 'revoked', guard: 'handedOver', actions: 'recordRevocation' },
      },
    },
    expired: { type: 'final' },
    revoked: {
      on: {
        CredentialRevoked: { guard: 'raisesToKeyCompromise', actions: 'raiseRevocationReason' },
      },
    },
  },
});
