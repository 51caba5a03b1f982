import type { CredentialContext, NodeContext, SubscriptionContext } from './contexts.ts';
import { handoverInstant, PURPOSES_BY_OWNER, registeredBootstrapOf, rotationOutcomeAt } from './credential.machine.ts';
import { dataOf, holdingNodeOf, isOneOf, ms, sameOwner, successorHolderMatches } from './guards.ts';
import { associationFound, instant, ownerText, saying, standing, windowText, type RefusalReason, type RefusalReasons } from './refusal-reasons.ts';
import { isWithin, type EntityView, type MachineEvent } from './types.ts';

const LIVE = ['initialized', 'enrolled', 'associated'];
/** An owner's kind as a refusal names it. */
const OWNER_KINDS: Readonly<Record<keyof typeof PURPOSES_BY_OWNER, string>> = { node: 'a node', cse: 'a CSE', app: 'an App-ID', ae: 'an AE' };
const credentialOf = (view: EntityView | undefined) => view?.context as CredentialContext | undefined;
const associationIdOf = (event: MachineEvent): string | undefined =>
  dataOf(event, 'CredentialAssociated')?.associationId ?? dataOf(event, 'CredentialAssociationReleased')?.associationId;

/** Why `label` (a credential, named) is not usable at `at`, in the order credentialUsableAt asks (guards.ts). */
export const unusableAt = (label: string, view: EntityView | undefined, at: number): string[] => {
  const c = credentialOf(view);
  if (view === undefined || c === undefined) return [`${label} is not recorded`];
  return [
    ...(!isOneOf(view, ['enrolled', 'associated']) ? [`${label} ${standing(view)}`] : []),
    ...(c.overlapEndsAt !== undefined && at >= c.overlapEndsAt ? [`${label} is past the end of its rotation's overlap at ${instant(c.overlapEndsAt)}`] : []),
    ...(!isWithin(at, c) ? [`${label} is ${windowText(c)}, and this is ${instant(at)}`] : []),
  ];
};

/**
 * What each credential guard asks, and what it found, once it has refused (machines/refusal-reasons.ts; review: a
 * rotation onto a successor that does not exist was refused "by rule successorLinked" and nothing more).
 */
export const credentialRefusals: RefusalReasons<CredentialContext> = {
  validityWindowOrdered: ({ event }) => {
    const d = dataOf(event, 'CredentialIssued');
    return `a credential's validity window opens before it closes (notBefore before notAfter); credential ${d?.credentialId} has notBefore ${d?.notBefore} and notAfter ${d?.notAfter}`;
  },
  purposeFitsOwner: ({ event }) => {
    const d = dataOf(event, 'CredentialIssued');
    if (d === undefined) return undefined;
    const takes = (kind: keyof typeof PURPOSES_BY_OWNER) => PURPOSES_BY_OWNER[kind].join(' or ');
    return (
      `a credential is issued for a purpose its owner's kind takes: a node ${takes('node')}, a CSE ${takes('cse')}, an App-ID ${takes('app')}, an AE ${takes('ae')} ` +
      `(seed 003, 11.2.1, 11.2.2); credential ${d.credentialId} has purpose ${d.purpose}, and its owner ${ownerText(d.owner)} is ${OWNER_KINDS[d.owner.kind]}, ` +
      `which takes only ${takes(d.owner.kind)}`
    );
  },
  ownerIsLive: ({ context, event }) => {
    // Issued, the event names the owner; provisioned (review 165) or rotated (review 314), the credential does.
    const issued = event.type === 'CredentialIssued';
    const owner = issued ? dataOf(event, 'CredentialIssued')?.owner : context.owner;
    if (owner === undefined) return undefined;
    const holder = owner.kind === 'node' || owner.kind === 'cse' ? `node ${holdingNodeOf(owner)}` : `App-ID ${owner.kind === 'app' ? owner.id : owner.appId}`;
    const cseId = owner.kind === 'cse' ? (event.facts.owner?.context as NodeContext | undefined)?.cseId : undefined;
    const asked = issued
      ? 'a credential is issued to a live owner'
      : `credential ${context.credentialId} is ${event.type === 'CredentialRotationStarted' ? 'rotated' : 'provisioned'} only while its owner is live`;
    return saying(
      `${asked} (RS-01): for ${ownerText(owner)}, ${holder} initialized, enrolled or associated${owner.kind === 'cse' ? `, holding CSE-ID ${owner.id}` : ''}`,
      [
        `${holder} ${standing(event.facts.owner)}`,
        ...(owner.kind === 'cse' && event.facts.owner !== undefined && cseId !== owner.id ? [`it holds CSE-ID ${cseId ?? '(none)'}`] : []),
      ],
    );
  },
  bootstrapNamedByItsNode: ({ event }) => {
    const d = dataOf(event, 'CredentialIssued');
    const named = registeredBootstrapOf(event);
    const nodeId = (event.facts.owner?.context as NodeContext | undefined)?.nodeId ?? d?.owner.id;
    if (d !== undefined && d.purpose !== 'bootstrap') {
      return (
        `the bootstrap credential a node registered with is issued to it only as its bootstrap, of purpose bootstrap (seed 004; review 290); ` +
        `credential ${d.credentialId} is issued with purpose ${d.purpose} to ${ownerText(d.owner)}, and node ${nodeId} registered with bootstrap credential ${named}`
      );
    }
    return (
      `a node's bootstrap credential, other than a rotation's successor, is the one the node named when it registered (seed 004; review 288); ` +
      `credential ${d?.credentialId} is issued as node ${d?.owner.id}'s bootstrap, and node ${d?.owner.id} registered with bootstrap credential ${named}`
    );
  },
  factoryCredentialNotRotated: ({ event }) => {
    const d = dataOf(event, 'CredentialIssued');
    return (
      `a node's factory credential is the one it registered with, which remote provisioning authenticates on, and is not rotated: ` +
      `a new factory credential means initialising the device under a new node id (README "device init"; review 290); ` +
      `credential ${d?.credentialId} is issued as the successor of bootstrap credential ${d?.predecessorId}, and node ${d?.owner.id} registered with bootstrap credential ${registeredBootstrapOf(event)}`
    );
  },
  predecessorIsLive: ({ event }) => {
    const d = dataOf(event, 'CredentialIssued');
    const predecessor = event.facts.predecessor;
    const owner = credentialOf(predecessor)?.owner;
    return saying(
      `a successor takes over from a predecessor enrolled or associated, of its owner ${ownerText(d?.owner)}, naming no holder the predecessor does not (HLR-212)`,
      predecessor === undefined
        ? [`predecessor ${d?.predecessorId} is not recorded`]
        : [
            ...(!isOneOf(predecessor, ['enrolled', 'associated']) ? [`predecessor ${d?.predecessorId} ${standing(predecessor)}`] : []),
            ...(!sameOwner(predecessor, d?.owner) || !successorHolderMatches(owner, d?.owner) ? [`predecessor ${d?.predecessorId} is owned by ${ownerText(owner)}`] : []),
          ],
    );
  },
  successorKeepsPurpose: ({ context, event }) => {
    // Issued, the event names the successor and the predecessor is the fact; rotated, this credential is the
    // predecessor and the successor the fact. What to do with one an earlier version stored: docs/service.md, Upgrading.
    const issued = dataOf(event, 'CredentialIssued');
    const rotated = dataOf(event, 'CredentialRotationStarted');
    const asked = 'a successor keeps its predecessor\'s purpose: a rotation replaces a credential with one for the same use (HLR-212)';
    if (issued !== undefined) {
      const theirs = credentialOf(event.facts.predecessor)?.purpose;
      return `${asked}; credential ${issued.credentialId} has purpose ${issued.purpose}, and its predecessor ${issued.predecessorId} has purpose ${theirs}`;
    }
    if (rotated === undefined) return undefined;
    const theirs = credentialOf(event.facts.successor)?.purpose;
    return `${asked}; credential ${context.credentialId} has purpose ${context.purpose}, and its successor ${rotated.successorId} has purpose ${theirs}`;
  },
  keyIsNew: ({ event }) => {
    const d = dataOf(event, 'CredentialIssued');
    const { predecessor, bootstrap } = event.facts;
    const same = (view: EntityView | undefined) => view !== undefined && credentialOf(view)?.fingerprint === d?.fingerprint;
    return saying(
      `a new credential carries a new key, neither its predecessor's nor its node's bootstrap (factory) key (HLR-212, RS-16; seed 003, 11.3.2)`,
      [
        ...(same(predecessor) ? [`credential ${d?.credentialId} carries the key of its predecessor ${d?.predecessorId}`] : []),
        ...(same(bootstrap) ? [`credential ${d?.credentialId} carries the key of its node's bootstrap credential ${credentialOf(bootstrap)?.credentialId}`] : []),
      ],
    );
  },
  keyNeverCertified: ({ event }) => {
    const d = dataOf(event, 'CredentialIssued');
    const holder = event.facts.keyHolder;
    // Named by the index of certified keys; its view may be missing (an EventStoreDB claim whose append failed).
    // A claim left by an append that failed names a credential on another key (review 201): not said to carry this one.
    const held = credentialOf(holder);
    const other = held !== undefined && held.fingerprint === d?.fingerprint ? held.credentialId : undefined;
    return saying(
      'a credential is issued on a key no other credential was ever issued on, live, revoked or expired (SER-010)',
      [other === undefined ? `credential ${d?.credentialId} carries a key already certified for another credential` : `credential ${d?.credentialId} carries the key credential ${other} was issued on`],
    );
  },
  notExpiredYet: ({ context, event }) =>
    `a credential is provisioned before its notAfter; credential ${context.credentialId} has notAfter ${instant(context.notAfter)}, and this is ${instant(event.at)}`,
  notAfterReached: ({ context, event }) =>
    `a credential expires at or after its notAfter; credential ${context.credentialId} has notAfter ${instant(context.notAfter)}, and this is ${instant(event.at)}`,
  bootstrapIsUsable: ({ context, event }) => {
    const id = dataOf(event, 'CredentialProvisioned')?.bootstrapCredentialId;
    const bootstrap = event.facts.bootstrap;
    const asked = `remote provisioning of credential ${context.credentialId} authenticates with a bootstrap credential of its owner ${ownerText(context.owner)}, enrolled or associated and inside its validity (seed 003, 11.2.1)`;
    if (id === undefined) return `${asked}; it names no bootstrap credential`;
    return saying(asked, [
      ...unusableAt(`bootstrap credential ${id}`, bootstrap, event.at),
      ...(bootstrap !== undefined && !sameOwner(bootstrap, context.owner) ? [`bootstrap credential ${id} is owned by ${ownerText(credentialOf(bootstrap)?.owner)}`] : []),
    ]);
  },
  bootstrapIsFactoryCredential: ({ context, event }) => {
    const id = dataOf(event, 'CredentialProvisioned')?.bootstrapCredentialId;
    const bootstrap = credentialOf(event.facts.bootstrap);
    const registered = (event.facts.owner?.context as NodeContext | undefined)?.bootstrapCredentialId;
    return saying(
      `remote provisioning of credential ${context.credentialId} authenticates with its node's factory credential: of purpose bootstrap, and the one the node registered with (seed 003, 11.2.1; review 288)`,
      [
        ...(bootstrap?.purpose !== 'bootstrap' ? [`credential ${id} has purpose ${bootstrap?.purpose ?? '(none)'}`] : []),
        ...(registered !== undefined && registered !== id ? [`its node registered with bootstrap credential ${registered}`] : []),
      ],
    );
  },
  subscriptionServes: ({ context, event }) => {
    const nodeId = context.owner === undefined ? undefined : holdingNodeOf(context.owner);
    const subscriptionId = (event.facts.owner?.context as NodeContext | undefined)?.subscriptionId;
    const s = event.facts.subscription;
    return saying(
      `node ${nodeId}'s service credential ${context.credentialId} is provisioned while the node's subscription ${subscriptionId} is active and within its validity (seed 003, 11.2.1)`,
      [`subscription ${subscriptionId} ${standing(s)}${s === undefined ? '' : `, ${windowText(s.context as unknown as SubscriptionContext)}, and this is ${instant(event.at)}`}`],
    );
  },
  endsWithinSubscription: ({ context, event }) => {
    // Issued, the event names the credential (its context is empty yet); provisioned, the credential does.
    const issued = dataOf(event, 'CredentialIssued');
    const owner = issued?.owner ?? context.owner;
    const credentialId = issued?.credentialId ?? context.credentialId;
    const notAfter = issued !== undefined ? ms(issued.notAfter) : context.notAfter;
    const nodeId = owner === undefined ? undefined : holdingNodeOf(owner);
    const subscriptionId = (event.facts.owner?.context as NodeContext | undefined)?.subscriptionId;
    const endsAt = instant((event.facts.subscription?.context as Partial<SubscriptionContext> | undefined)?.notAfter);
    // What the operator does (reviews 197, 205): refused at issue nothing was written, so the same key may be issued
    // again cut to the end; refused at provisioning its key was certified at issue (keyNeverCertified), so a new key.
    // Not a rotation: a successor takes over only from a provisioned predecessor (predecessorIsLive).
    const advice = issued !== undefined
      ? `issue it with notAfter at or before ${endsAt} (nothing was written: its key is not taken)`
      : `its key was certified when it was issued (keyNeverCertified), so revoke ${credentialId} and issue a successor on a new key with notAfter at or before ${endsAt}`;
    return (
      `node ${nodeId}'s service credential ${credentialId} is ${issued !== undefined ? 'issued' : 'provisioned'} only if it ends by the end of the subscription the node is enrolled under (seed 003, 11.2.1); ` +
      `it has notAfter ${instant(notAfter)}, and subscription ${subscriptionId} ends at ${endsAt}: ${advice}`
    );
  },
  cseIdHeldByItsNode: ({ context, event }) => {
    const owner = context.owner;
    const node = event.facts.owner;
    const holds = (node?.context as NodeContext | undefined)?.cseId;
    return `credential ${context.credentialId} of CSE-ID ${owner?.id} is provisioned into node ${owner?.nodeId} while that node holds the CSE-ID (RS-01); node ${owner?.nodeId} ${node === undefined ? 'is not recorded' : `holds CSE-ID ${holds ?? '(none)'}`}`;
  },
  receiptServiceParametersCurrent: ({ context, event }) => {
    const receipt = dataOf(event, 'CredentialProvisioned')?.receipt;
    const given = receipt?.version === 2 ? receipt.serviceParameters : {};
    const nodeId = context.owner === undefined ? undefined : holdingNodeOf(context.owner);
    const node = event.facts.owner?.context as NodeContext | undefined;
    return (
      `credential ${context.credentialId} is provisioned with the service parameters its node has at the record (seed 003, 11.2.1; RS-17): ` +
      `the receipt gives M2M-Sub-ID ${given.m2mSubId ?? '(none)'} and CSE-ID ${given.cseId ?? '(none)'}, and node ${nodeId} is enrolled under subscription ` +
      `${node?.subscriptionId ?? '(none)'} with CSE-ID ${node?.cseId ?? '(none)'}: it moved after the run's auth step, so the device runs the provisioning again`
    );
  },
  associationIsNew: ({ context, event }) =>
    `an association is recorded on credential ${context.credentialId} once; association ${dataOf(event, 'CredentialAssociated')?.associationId} is already live on it`,
  associationIsLive: ({ context, event }) =>
    `a release names an association live on credential ${context.credentialId}; association ${dataOf(event, 'CredentialAssociationReleased')?.associationId} is not one of its ${context.liveAssociations?.length ?? 0} live associations`,
  associationNamesThisCredential: ({ context, event }) =>
    `an association recorded on (or released from) credential ${context.credentialId} is one established on it (seed 003, 11.3.2; review 234); ` +
    associationFound(associationIdOf(event), event.facts.association, (a) => `credential ${a.credentialId ?? '(none)'}`),
  associationEnded: ({ context, event }) =>
    `an association is released from credential ${context.credentialId} once it has ended (revoked or expired); association ${associationIdOf(event)} ${standing(event.facts.association)}`,
  successorLinked: ({ context, event }) => {
    const d = dataOf(event, 'CredentialRotationStarted');
    if (d === undefined) return undefined;
    const { successor: view, previousSuccessor } = event.facts;
    const s = credentialOf(view);
    const overlapEndsAt = ms(d.overlapEndsAt);
    const id = d.successorId;
    return saying(
      `a rotation of credential ${context.credentialId} names a recorded successor, initialized, enrolled or associated, of its owner ${ownerText(context.owner)}, ` +
        `naming it as predecessor and valid when the overlap ends, which lies after this instant and no later than its notAfter ${instant(context.notAfter)}, ` +
        'one rotation at a time (HLR-212)',
      [
        ...(context.successorId !== undefined && !isOneOf(previousSuccessor, ['expired', 'revoked'])
          ? [`its rotation to ${context.successorId} stands (that successor ${standing(previousSuccessor)})`]
          : []),
        ...(view === undefined || s === undefined
          ? [`successor ${id} is not recorded`]
          : [
              ...(!isOneOf(view, LIVE) ? [`successor ${id} ${standing(view)}`] : []),
              ...(!sameOwner(view, context.owner) || !successorHolderMatches(context.owner, s.owner) ? [`successor ${id} is owned by ${ownerText(s.owner)}`] : []),
              ...(s.predecessorId !== context.credentialId ? [`successor ${id} names predecessor ${s.predecessorId ?? '(none)'}`] : []),
              ...(!isWithin(overlapEndsAt, s) ? [`successor ${id} is ${windowText(s)}, which does not hold the end of the overlap ${d.overlapEndsAt}`] : []),
            ]),
        ...(!(overlapEndsAt > event.at) ? [`the overlap ends at ${d.overlapEndsAt}, not after this instant ${instant(event.at)}`] : []),
        ...(!(overlapEndsAt <= context.notAfter) ? [`the overlap ends at ${d.overlapEndsAt}, after its notAfter`] : []),
      ],
    );
  },
  overlapEndsAfterNotBefore: ({ context, event }) => {
    const d = dataOf(event, 'CredentialRotationStarted');
    return d === undefined
      ? undefined
      : `a rotation's overlap ends after its predecessor becomes valid: the overlap of credential ${context.credentialId} ends at ${d.overlapEndsAt}, ` +
          `not after its notBefore ${instant(context.notBefore)} (it would be superseded before it was ever valid)`;
  },
  rotationAbandonable: ({ context, event }) => {
    const id = dataOf(event, 'CredentialRotationAbandoned')?.successorId;
    const asked = `a rotation of credential ${context.credentialId} is abandoned while it stands and its node does not hold the successor (HLR-212)`;
    if (context.successorId === undefined) return `${asked}; it has no rotation standing`;
    if (context.successorId !== id) return `${asked}; its rotation names successor ${context.successorId}, not ${id}`;
    const judgedAt = handoverInstant(context, event.at);
    return rotationOutcomeAt(event.facts.successor, undefined, judgedAt) === 'superseded'
      ? `${asked}; its node holds successor ${id} at ${instant(judgedAt)}, which supersedes it`
      : `${asked}; successor ${id} was superseded in turn, and the rotation went on down its chain`;
  },
  raisesToKeyCompromise: (args) => credentialRevokedAlready(args),
  handedOver: ({ context, event }) => {
    const judgedAt = handoverInstant(context, event.at);
    const { successor, handover } = event.facts;
    const chainEnd = handover === undefined ? '' : `, nor credential ${credentialOf(handover)?.credentialId} it handed over to`;
    return saying(
      `credential ${context.credentialId} is revoked as superseded only if its node holds its successor ${context.successorId}, or where that handed over to, at ${instant(judgedAt)} (HLR-212)`,
      [
        successor === undefined
          ? `successor ${context.successorId} is not recorded`
          : `its node does not hold successor ${context.successorId} then (it ${standing(successor)}, ${windowText(credentialOf(successor))})${chainEnd}`,
      ],
    );
  },
};

/**
 * Why a revoked credential takes no second revocation but one raising its reason to keyCompromise (the guard
 * `raisesToKeyCompromise`). Review 197 F2: a second revocation was told only that the state accepts nothing; what
 * stands is named, the reason and the instant (recordRevocation keeps both), as OCSP and the CRLs publish them. A
 * context kept before the instant was (a stored view) names the reason alone.
 */
export const credentialRevokedAlready: RefusalReason<CredentialContext> = ({ context, event }) => {
  if (event.type !== 'CredentialRevoked' || context.revocationReason === undefined) return undefined;
  const when = context.endedAt === undefined ? '' : ` at ${instant(context.endedAt)}`;
  const standing = `credential ${context.credentialId} was revoked as ${context.revocationReason}${when}`;
  if (event.at >= context.notAfter && context.notAfter > 0) {
    return (
      `${standing}, and its validity ended at ${instant(context.notAfter)}: a reason is raised only within the validity, and its CRL entry ` +
      `and OCSP answer keep the reason they have until they leave them (docs/pki.md, "Raising a revocation's reason to keyCompromise")`
    );
  }
  if (context.revocationReason === 'keyCompromise') return `${standing}, and no reason is raised past keyCompromise (docs/pki.md, "Raising a revocation's reason to keyCompromise")`;
  return (
    `${standing}, and a revocation's reason is changed only by raising it to keyCompromise, once (RFC 5280 5.3.1): ` +
    `it is refused by OCSP and listed on the CRL as it stands until then (docs/pki.md, "Raising a revocation's reason to keyCompromise")`
  );
};
