import { and, assign, setup } from 'xstate';
import type { ApplicationContext, AssociationContext, CredentialContext } from './contexts.ts';
import { associationHasEnded, credentialUsableAt, dataOf, establishedAssociation, factGuard, isOneOf } from './guards.ts';
import type { RevocationReason } from '../domain/events/index.ts';
import { isWithin, type EntityView, type MachineEvent } from './types.ts';
import { associationFound, instant, ownerText, saying, standing, windowText, type RefusalReasons } from './refusal-reasons.ts';

/**
 * The reason an App-ID's instances lose access for when the credential it is enrolled with ended: the credential's
 * own revocation reason, or cessation of operation when it expired or was superseded (the instances were not).
 */
export const enrolmentEndReason = (ended: RevocationReason | 'expired'): RevocationReason =>
  ended === 'expired' || ended === 'superseded' ? 'cessationOfOperation' : ended;

/** What ending the enrolment with `credential` must give as its reason; undefined while that credential has not ended. */
const endReasonOf = (credential: EntityView | undefined): RevocationReason | undefined => {
  if (isOneOf(credential, ['expired'])) return enrolmentEndReason('expired');
  const reason = (credential?.context as CredentialContext | undefined)?.revocationReason;
  return isOneOf(credential, ['revoked']) && reason !== undefined ? enrolmentEndReason(reason) : undefined;
};

/** The association an instance's record or release names. */
const instanceIdOf = (event: MachineEvent): string | undefined =>
  dataOf(event, 'ApplicationInstanceAssociated')?.associationId ?? dataOf(event, 'ApplicationInstanceReleased')?.associationId;

/** The AE the instance is of: the record's, or for a release the one listed with its association. */
const instanceAeIdOf = (context: ApplicationContext, event: MachineEvent): string | undefined =>
  dataOf(event, 'ApplicationInstanceAssociated')?.aeId ?? context.liveInstances?.find((i) => i.associationId === instanceIdOf(event))?.aeId;

/** Whom an association is for, as a refusal names it. */
const registreeText = (a: AssociationContext): string =>
  a.registree === undefined ? 'no registree' : a.registree.kind === 'cse' ? `CSE ${a.registree.id}` : `AE ${a.registree.id} of App-ID ${a.registree.appId}`;

/**
 * Review 249: a credential past its notAfter has not ended until the expiry scheduler's tick records CredentialExpired,
 * and "credential c is enrolled" alone did not say that the user is waiting for that tick. Told only when the
 * validity has passed at this instant; empty otherwise.
 */
const validityPassed = (event: MachineEvent): string => {
  const c = event.facts.credential?.context as CredentialContext | undefined;
  if (c?.notAfter === undefined || event.at < c.notAfter) return '';
  return (
    `, ${windowText(c)}, and this is ${instant(event.at)}: its validity has passed, but it ends when the expiry scheduler records its expiry (CredentialExpired), ` +
    `at its next tick, and the enrolment can end then, as ${enrolmentEndReason('expired')} (the cascade ends it)`
  );
};

/** The states in which a credential can carry an App-ID's authorisation (credentialIsForThisApp). */
const STANDING = ['initialized', 'enrolled', 'associated'];

/**
 * What a refused application event must change, told after the guards below refused (machines/refusal-reasons.ts).
 * Found in review 54: a credential issued `--purpose service --owner app:Rbilling` was refused "by rule credentialIsForThisApp",
 * and nothing the user saw said that an App-ID takes a credential of purpose `application`.
 */
export const applicationRefusals: RefusalReasons<ApplicationContext> = {
  credentialIsForThisApp: ({ context, event }) => {
    const id = dataOf(event, 'ApplicationEnrolled')?.credentialId;
    const credential = event.facts.credential;
    const asked = `App-ID ${context.appId} takes a credential of purpose application, owned by app:${context.appId} and not ended`;
    if (credential === undefined) return `${asked}; credential ${id} is not recorded`;
    const c = credential.context as unknown as CredentialContext;
    const found = [
      ...(c.purpose !== 'application' ? [`has purpose ${c.purpose ?? '(none)'}`] : []),
      ...(c.owner?.kind !== 'app' || c.owner.id !== context.appId ? [`is owned by ${c.owner === undefined ? '(no one)' : ownerText(c.owner)}`] : []),
      ...(!STANDING.includes(credential.state) ? [`is ${credential.state}`] : []),
    ];
    return found.length === 0 ? undefined : `${asked}; credential ${id} ${found.join(' and ')}`;
  },
  credentialWithinItsWindow: ({ context, event }) => {
    const id = dataOf(event, 'ApplicationEnrolled')?.credentialId;
    const c = event.facts.credential?.context as CredentialContext | undefined;
    const found = c === undefined ? 'is not recorded' : `is ${windowText(c)}, and this is ${instant(event.at)}`;
    return `App-ID ${context.appId} is enrolled with a credential inside its validity (seed 003, 11.2.2); credential ${id} ${found}`;
  },
  credentialReplacesCurrent: ({ context, event }) => {
    const id = dataOf(event, 'ApplicationEnrolled')?.credentialId;
    const c = event.facts.credential?.context as CredentialContext | undefined;
    return saying(`App-ID ${context.appId}, enrolled with credential ${context.credentialId}, moves onto another credential of its own, inside its validity`, [
      ...(id === context.credentialId ? [`credential ${id} is the one it is enrolled with`] : []),
      ...(c === undefined ? [`credential ${id} is not recorded`] : !isWithin(event.at, c) ? [`credential ${id} is ${windowText(c)}, and this is ${instant(event.at)}`] : []),
    ]);
  },
  credentialBeforeOverlapEnds: ({ context, event }) => {
    const id = dataOf(event, 'ApplicationEnrolled')?.credentialId;
    const c = event.facts.credential?.context as CredentialContext | undefined;
    return saying(
      `App-ID ${context.appId} is enrolled with a credential it can use now: not one past the end of its rotation's overlap, which hands over to its successor then ` +
        `though the expiry scheduler records that at its next tick (HLR-212, seed 003 11.2.2); enrol it with the successor${c?.successorId === undefined ? '' : ` ${c.successorId}`}`,
      c?.overlapEndsAt !== undefined && event.at >= c.overlapEndsAt
        ? [`credential ${id} is past the end of its rotation's overlap at ${instant(c.overlapEndsAt)}, and this is ${instant(event.at)}`]
        : [],
    );
  },
  enrolledCredentialEnded: ({ context, event }) => {
    const d = dataOf(event, 'ApplicationEnrolmentEnded');
    const ends = endReasonOf(event.facts.credential);
    return saying(
      `App-ID ${context.appId}'s enrolment ends once the credential it is enrolled with, ${context.credentialId ?? '(none)'}, has ended, for the reason that end gives`,
      [
        ...(d?.credentialId !== context.credentialId ? [`the event names credential ${d?.credentialId}`] : []),
        ...(ends === undefined ? [`credential ${d?.credentialId} ${standing(event.facts.credential)}${validityPassed(event)}`] : ends !== d?.reason ? [`the event gives ${d?.reason}, and its end gives ${ends}`] : []),
      ],
    );
  },
  currentCredentialHandsOver: ({ context, event }) => {
    const current = event.facts.currentCredential;
    const c = current?.context as CredentialContext | undefined;
    const found = current === undefined ? 'is not recorded'
      : isOneOf(current, ['revoked']) ? `is revoked as ${c?.revocationReason ?? '(no reason)'}`
      : `is ${current.state}${c?.successorId === undefined ? ' with no rotation' : ` while rotating to ${c.successorId}`}`;
    return (
      `App-ID ${context.appId} moves off credential ${context.credentialId} only while it stands or once it handed over (revoked as superseded, or expired while rotating to ` +
      `credential ${dataOf(event, 'ApplicationEnrolled')?.credentialId}); credential ${context.credentialId} ${found}`
    );
  },
  replacesCurrent: ({ context, event }) =>
    `a first enrolment of App-ID ${context.appId} names no credential it replaces (it is enrolled with none); it names ${dataOf(event, 'ApplicationEnrolled')?.replaces}`,
  movesFromCurrent: ({ context, event }) =>
    `a move of App-ID ${context.appId} names as the credential it replaces the one it is enrolled with, ${context.credentialId}; it names ${dataOf(event, 'ApplicationEnrolled')?.replaces}`,
  instanceIsNew: ({ context, event }) =>
    `an instance is recorded on App-ID ${context.appId} once; association ${dataOf(event, 'ApplicationInstanceAssociated')?.associationId} is already live on it`,
  instanceIsLive: ({ context, event }) =>
    `a release names an instance live on App-ID ${context.appId}; association ${dataOf(event, 'ApplicationInstanceReleased')?.associationId} is not one of its ${context.liveInstances?.length ?? 0} live instances`,
  associationNamesThisInstance: ({ context, event }) => {
    const id = instanceIdOf(event);
    return (
      `an instance of App-ID ${context.appId} is an established association of its AE ${instanceAeIdOf(context, event) ?? '(none)'} (seed 003, 11.2.2; review 234); ` +
      associationFound(id, event.facts.association, registreeText)
    );
  },
  associationEnded: ({ context, event }) =>
    `an instance of App-ID ${context.appId} is released once its association has ended (revoked or expired); association ${instanceIdOf(event)} ${standing(event.facts.association)}`,
};

/**
 * M2M Application Enrolment (seed 003, 11.2.2): an App-ID is registered, then associated with a security
 * credential; its instances (AEs) associate through it; revoking the App-ID revokes access for all instances.
 * An application has no expiry of its own: its authorisation ends with its credential (ApplicationEnrolmentEnded,
 * recorded by the cascade when that credential is revoked or expires), and it may be enrolled again, or moved onto
 * another credential of its own while enrolled (the successor of a rotation, say).
 */
export const applicationMachine = setup({
  types: { context: {} as ApplicationContext, events: {} as MachineEvent, input: {} as { id: string } },
  guards: {
    credentialIsForThisApp: factGuard(({ context, event }) => {
      const credential = event.facts.credential;
      const c = credential?.context as CredentialContext | undefined;
      return (
        isOneOf(credential, STANDING) &&
        c?.purpose === 'application' &&
        c.owner?.kind === 'app' &&
        c.owner.id === context.appId
      );
    }),
    /**
     * Seed 003, 11.2.2: an App-ID's authorisation is its credential's, and lasts no longer (the association machine's
     * applicationCredentialStands): a first enrolment, or one after the last ended, takes a credential inside its validity window
     * [notBefore, notAfter) at this instant, as a move does (credentialReplacesCurrent). Not one past its notAfter the
     * expiry scheduler has not marked expired yet, nor one before its notBefore: the App-ID could not use it now, and
     * its instances would be refused until then (found in review 26: only the credential's state was checked).
     */
    credentialWithinItsWindow: factGuard(({ event }) => {
      const credential = event.facts.credential?.context as CredentialContext | undefined;
      return credential !== undefined && isWithin(event.at, credential);
    }),
    /**
     * Review 343 (machines v14; REQUIREMENTS 11.2.2): an enrolment, first or a move, never takes a credential the
     * App-ID could not use now. Past the end of its rotation's overlap a credential hands over to its successor
     * (HLR-212), and an AE association on it is refused (the association machine's credentialUsable) though the
     * expiry scheduler has not recorded the handover yet: an App-ID was enrolled with it, or moved onto it, then. Judged
     * by credentialUsableAt, the rule credentialUsable judges by, for a credential it can judge: one issued and not
     * provisioned yet has no rotation (a rotation starts only from a provisioned one), and its state and window are
     * credentialIsForThisApp's and the window guards' to judge, before this one. A rule of its own, so that replay names
     * it as newer than what earlier versions stored (RULES_SINCE).
     */
    credentialBeforeOverlapEnds: factGuard(({ event }) => {
      const credential = event.facts.credential;
      return !isOneOf(credential, ['enrolled', 'associated']) || credentialUsableAt(credential, event.at);
    }),
    /** Another credential for this App-ID, inside its validity: the App-ID moves its authorisation onto it. */
    credentialReplacesCurrent: factGuard(({ context, event }) => {
      const credential = event.facts.credential?.context as CredentialContext | undefined;
      return credential !== undefined && dataOf(event, 'ApplicationEnrolled')?.credentialId !== context.credentialId && isWithin(event.at, credential);
    }),
    /**
     * The credential the App-ID is enrolled with has ended (revoked or expired): so has its authorisation, for the
     * reason that credential's end gives (found in review: an operator's end, ahead of the cascade, could give its
     * instances a milder reason than the credential's key compromise).
     */
    enrolledCredentialEnded: factGuard(({ context, event }) => {
      const d = dataOf(event, 'ApplicationEnrolmentEnded');
      return d !== undefined && d.credentialId === context.credentialId && endReasonOf(event.facts.credential) === d.reason;
    }),
    /**
     * A move leaves a credential that still stands, or one that handed over: superseded, or expired while its rotation
     * to the credential moved to stood (the handover the cascade records as this move). Not one revoked for any other
     * reason, or expired otherwise: that ends the App-ID's
     * authorisation, and the cascade ends its enrolment with that credential's reason, revoking its instances' access
     * (seed 003 11.2.2: a credential is how access of all instances of an undesirable application is revoked). Found in
     * review 31: an operator's move after a key compromise, ahead of the cascade, kept every instance associated.
     */
    currentCredentialHandsOver: factGuard(({ event }) => {
      // Read only for a move from another credential (facts.ts): a first enrolment, or one onto the same, has none.
      if (!('currentCredential' in event.facts)) return true;
      const current = event.facts.currentCredential;
      if (current === undefined) return false;
      if (!isOneOf(current, ['revoked', 'expired'])) return true;
      const c = current.context as unknown as CredentialContext;
      if (isOneOf(current, ['revoked'])) return c.revocationReason === 'superseded';
      return c.successorId !== undefined && c.successorId === dataOf(event, 'ApplicationEnrolled')?.credentialId;
    }),
    hasLiveInstances: ({ context }) => context.liveInstances.length > 0,
    /** A first enrolment (or one after the last ended) names no credential it replaces. */
    replacesCurrent: ({ context, event }) => dataOf(event, 'ApplicationEnrolled')?.replaces === context.credentialId,
    /** A move may name the credential it moves from, which must then be the current one (the cascade's always do). */
    movesFromCurrent: ({ context, event }) => {
      const replaces = dataOf(event, 'ApplicationEnrolled')?.replaces;
      return replaces === undefined || replaces === context.credentialId;
    },
    instanceIsNew: ({ context, event }) => {
      const id = dataOf(event, 'ApplicationInstanceAssociated')?.associationId;
      return id !== undefined && !context.liveInstances.some((i) => i.associationId === id);
    },
    instanceIsLive: ({ context, event }) => {
      const id = dataOf(event, 'ApplicationInstanceReleased')?.associationId;
      return id !== undefined && context.liveInstances.some((i) => i.associationId === id);
    },
    /**
     * Review 234: an instance recorded (or released) on this App-ID is an established association of this App-ID's AE
     * (read as a fact, machines/facts.ts), whether it has ended since or not: the id alone let a forged
     * ApplicationInstanceAssociated keep the App-ID associated for good, and replay found nothing.
     */
    associationNamesThisInstance: factGuard(({ context, event }) => {
      const registree = establishedAssociation(event.facts.association)?.registree;
      return registree?.kind === 'ae' && registree.appId === context.appId && registree.id === instanceAeIdOf(context, event);
    }),
    /** A release follows the association's end (the cascade's reaction to its revocation or expiry), never a live one's. */
    associationEnded: factGuard(({ event }) => associationHasEnded(event.facts.association)),
    lastInstance: ({ context }) => context.liveInstances.length === 1,
  },
  actions: {
    addInstance: assign(({ context, event }) => {
      const d = dataOf(event, 'ApplicationInstanceAssociated')!;
      return { liveInstances: [...context.liveInstances, { associationId: d.associationId, aeId: d.aeId }] };
    }),
    removeInstance: assign(({ context, event }) => {
      const id = dataOf(event, 'ApplicationInstanceReleased')!.associationId;
      return { liveInstances: context.liveInstances.filter((i) => i.associationId !== id) };
    }),
    recordRevocation: assign(({ event }) => ({ revocationReason: dataOf(event, 'ApplicationRevoked')!.reason })),
    bindCredential: assign(({ event }) => ({ credentialId: dataOf(event, 'ApplicationEnrolled')!.credentialId })),
    // The instances stay listed until the cascade's revocations of their associations release them.
    unbindCredential: assign({ credentialId: undefined }),
  },
}).createMachine({
  id: 'application',
  context: ({ input }) => ({ appId: input.id, liveInstances: [] }),
  initial: 'absent',
  states: {
    absent: {
      on: {
        ApplicationRegistered: {
          target: 'initialized',
          actions: assign(({ event }) => ({ appId: dataOf(event, 'ApplicationRegistered')!.appId })),
        },
      },
    },
    // Registered, not (or no longer) enrolled. After an enrolment ended, instances whose associations the cascade
    // has not revoked yet are still listed: they are released here, and a new enrolment finds them.
    initialized: {
      on: {
        ApplicationEnrolled: [
          { target: 'associated', guard: and(['replacesCurrent', 'credentialIsForThisApp', 'credentialWithinItsWindow', 'credentialBeforeOverlapEnds', 'hasLiveInstances']), actions: 'bindCredential' },
          { target: 'enrolled', guard: and(['replacesCurrent', 'credentialIsForThisApp', 'credentialWithinItsWindow', 'credentialBeforeOverlapEnds']), actions: 'bindCredential' },
        ],
        ApplicationInstanceReleased: { guard: and(['instanceIsLive', 'associationNamesThisInstance', 'associationEnded']), actions: 'removeInstance' },
        ApplicationRevoked: { target: 'revoked', actions: 'recordRevocation' },
      },
    },
    enrolled: {
      on: {
        ApplicationEnrolled: { guard: and(['movesFromCurrent', 'currentCredentialHandsOver', 'credentialIsForThisApp', 'credentialReplacesCurrent', 'credentialBeforeOverlapEnds']), actions: 'bindCredential' },
        ApplicationInstanceAssociated: { target: 'associated', guard: and(['instanceIsNew', 'associationNamesThisInstance']), actions: 'addInstance' },
        ApplicationEnrolmentEnded: { target: 'initialized', guard: 'enrolledCredentialEnded', actions: 'unbindCredential' },
        ApplicationRevoked: { target: 'revoked', actions: 'recordRevocation' },
      },
    },
    associated: {
      on: {
        ApplicationEnrolled: { guard: and(['movesFromCurrent', 'currentCredentialHandsOver', 'credentialIsForThisApp', 'credentialReplacesCurrent', 'credentialBeforeOverlapEnds']), actions: 'bindCredential' },
        ApplicationInstanceAssociated: { guard: and(['instanceIsNew', 'associationNamesThisInstance']), actions: 'addInstance' },
        ApplicationInstanceReleased: [
          { target: 'enrolled', guard: and(['instanceIsLive', 'associationNamesThisInstance', 'associationEnded', 'lastInstance']), actions: 'removeInstance' },
          { guard: and(['instanceIsLive', 'associationNamesThisInstance', 'associationEnded']), actions: 'removeInstance' },
        ],
        ApplicationEnrolmentEnded: { target: 'initialized', guard: 'enrolledCredentialEnded', actions: 'unbindCredential' },
        ApplicationRevoked: { target: 'revoked', actions: 'recordRevocation' },
      },
    },
    revoked: { type: 'final' },
  },
});
