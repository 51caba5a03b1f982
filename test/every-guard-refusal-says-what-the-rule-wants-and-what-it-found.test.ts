import { afterEach, describe, expect, it } from 'vitest';
import type { AnyStateMachine } from 'xstate';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import type { EventType } from '../domain/events/index.ts';
import { ENTITY_KINDS, type EntityKind } from '../domain/streams.ts';
import { REFUSAL_REASONS } from '../machines/evaluate.ts';
import { MACHINES, evaluate, initialSnapshot, refusalError, type EntitySnapshot, type Facts, type MachineEvent } from '../machines/index.ts';
import { cmd, footprint, rejection, T0 } from './support/fleet.ts';

/*
 * Found in review (docs/service.md "A refusal names what to fix"): most guard refusals said only the rule's name, e.g.
 * `startCredentialRotation` onto a successor that does not exist, its overlap ending in 2020, was refused "… refused in
 * state enrolled by rule successorLinked". Each guard that refuses now says what it asks and what it found: the ids,
 * states and instants it read. The machines decide as before (the rule and the problem's members are unchanged).
 */

const T = Date.parse(T0);
const DAY = 86_400_000;
const at = (days: number) => T + days * DAY;
const iso = (days: number) => new Date(at(days)).toISOString();
const view = (state: string, context: Record<string, unknown> = {}) => ({ state, context });
const e = (type: EventType, data: Record<string, unknown>, days = 10, facts: Facts = {}): MachineEvent =>
  ({ type, data, at: at(days), facts }) as unknown as MachineEvent;

const FINGERPRINT = `sha256:${'f'.repeat(64)}`;
const PUBLIC_KEY = 'K'.repeat(43);
const activeSub = view('active', { subscriptionId: 's', notBefore: at(0), notAfter: at(365) });
const nodeCred = (state = 'enrolled', extra: Record<string, unknown> = {}) =>
  view(state, { credentialId: 'c', purpose: 'service', owner: { kind: 'node', id: 'n' }, notBefore: at(0), notAfter: at(100), liveAssociations: [], ...extra });
const appCred = (state = 'enrolled', extra: Record<string, unknown> = {}) =>
  view(state, { credentialId: 'ac', purpose: 'application', owner: { kind: 'app', id: 'Rapp' }, notBefore: at(0), notAfter: at(100), liveAssociations: [], ...extra });
const servedNode = (extra: Record<string, unknown> = {}) => view('enrolled', { nodeId: 'n', cseId: '/n', subscriptionId: 's', ...extra });

const issued = (extra: Record<string, unknown> = {}, facts: Facts = { owner: view('enrolled', { nodeId: 'n' }) }, days = 10) =>
  e('CredentialIssued', {
    credentialId: 'c', kind: 'ed25519', publicKey: PUBLIC_KEY, purpose: 'service', owner: { kind: 'node', id: 'n' },
    fingerprint: FINGERPRINT, notBefore: iso(0), notAfter: iso(100), ...extra,
  }, days, facts);
const provisioned = e('CredentialProvisioned', { credentialId: 'c', method: 'pre-provisioning' }, 10, { owner: view('enrolled', { nodeId: 'n' }) });
/** A rotation of c onto c2; its node n live (ownerIsLive, review 314) unless `facts` says otherwise. */
const rotation = (facts: Facts, overlapEndsAt = iso(20), days = 10) =>
  e('CredentialRotationStarted', { credentialId: 'c', successorId: 'c2', overlapEndsAt }, days, { owner: view('enrolled'), ...facts });
const successor = (state = 'initialized', extra: Record<string, unknown> = {}) =>
  view(state, { credentialId: 'c2', predecessorId: 'c', owner: { kind: 'node', id: 'n' }, notBefore: at(0), notAfter: at(100), ...extra });
const enrolApp = (credentialId: string, days = 10, facts: Facts = { credential: appCred('enrolled', { credentialId }) }, replaces?: string) =>
  e('ApplicationEnrolled', { appId: 'Rapp', credentialId, ...(replaces !== undefined ? { replaces } : {}) }, days, facts);
const cse = { kind: 'cse', id: '/n' };
const ae = { kind: 'ae', id: 'Cae', appId: 'Rapp' };
const configured = (facts: Facts, registree: object = cse, days = 10) =>
  e('AssociationConfigured', { associationId: 'a', nodeId: 'n', credentialId: 'c', registree, registrarCseId: '/in' }, days, facts);
const served: Facts = { credential: nodeCred(), node: servedNode(), subscription: activeSub };
// The AE's own credential (ae:Cae@app:Rapp): since review 249 one of the App-ID's authenticates its AEs only if it is
// the one the App-ID is enrolled with (appCredentialIsEnrolled), and these cases are about that one, ac.
const aeCred = (state = 'enrolled', extra: Record<string, unknown> = {}) =>
  view(state, { credentialId: 'c', purpose: 'service', owner: { kind: 'ae', id: 'Cae', appId: 'Rapp' }, notBefore: at(0), notAfter: at(100), liveAssociations: [], ...extra });
const appEnrolledWith = (credentialId: string) => view('enrolled', { appId: 'Rapp', credentialId, liveInstances: [] });
const aeServed: Facts = { ...served, credential: aeCred(), application: appEnrolledWith('ac'), applicationCredential: appCred() };
/** An AE association on credential c of the App-ID's own, the one it is enrolled with. */
const onAppCred: Facts = { ...served, credential: appCred('enrolled', { credentialId: 'c' }), application: appEnrolledWith('c'), applicationCredential: appCred('enrolled', { credentialId: 'c' }) };
const established = (facts: Facts = served, expiresAt = iso(40)) => e('AssociationEstablished', { associationId: 'a', expiresAt }, 10, facts);

/** The events that bring each kind to where a case starts. */
const GIVEN = {
  subscription: [e('SubscriptionCreated', { subscriptionId: 's', subscriber: 'x', notBefore: iso(0), notAfter: iso(365) })],
  node: [e('NodeRegistered', { nodeId: 'n', profile: { class: 'meter', manufacturer: 'a', model: 'b', capabilities: [] } })],
  nodeEnrolled: [] as MachineEvent[],
  credential: [issued()],
  application: [e('ApplicationRegistered', { appId: 'Rapp', name: 'billing', provider: 'acme' })],
  association: [] as MachineEvent[],
};
GIVEN.nodeEnrolled = [...GIVEN.node, e('NodeEnrolled', { nodeId: 'n', subscriptionId: 's', cseId: '/n' }, 10, { subscription: activeSub })];
/** Association a1, of AE Cae1 of Rapp on credential c of node n, as the bookkeeping reads it (review 234): established, ended or not. */
const assocOf = (state: string, extra: Record<string, unknown> = {}) =>
  view(state, { associationId: 'a1', nodeId: 'n', credentialId: 'c', registree: { kind: 'ae', id: 'Cae1', appId: 'Rapp' }, establishedAt: at(5), expiresAt: at(40), ...extra });
const a1: Facts = { association: assocOf('revoked') };
const nodeAssociated = [...GIVEN.nodeEnrolled, e('NodeAssociated', { nodeId: 'n', associationId: 'a1' }, 10, a1)];
const credEnrolled = [...GIVEN.credential, provisioned];
const credAssociated = [...credEnrolled, e('CredentialAssociated', { credentialId: 'c', associationId: 'a1' }, 10, a1)];
const credRotating = [...credEnrolled, rotation({ successor: successor() })];
const appEnrolled = [...GIVEN.application, enrolApp('c', 10, { credential: appCred('enrolled', { credentialId: 'c' }) })];
const appAssociated = [...appEnrolled, e('ApplicationInstanceAssociated', { appId: 'Rapp', aeId: 'Cae1', associationId: 'a1' }, 10, a1)];
const assocConfigured = [configured(served)];
const assocAeConfigured = [configured(aeServed, ae)];
const assocOnAppCred = [configured(onAppCred, ae)];
const assocEstablished = [...assocConfigured, established()];

type Case = [name: string, kind: EntityKind, given: MachineEvent[], event: MachineEvent, rule: string, found: string[]];

const CASES: Case[] = [
  ['a subscription whose window closes before it opens', 'subscription', [],
    e('SubscriptionCreated', { subscriptionId: 's', subscriber: 'x', notBefore: iso(10), notAfter: iso(5) }), 'validityWindowOrdered', ['subscription s', iso(10), iso(5)]],
  ['a subscription expired before its notAfter', 'subscription', GIVEN.subscription, e('SubscriptionExpired', { subscriptionId: 's' }, 100), 'notAfterReached', ['subscription s', iso(365), iso(100)]],
  // Review 355: run out, not ended early; the refusal names the command that records it.
  ['a subscription terminated past its notAfter', 'subscription', GIVEN.subscription, e('SubscriptionTerminated', { subscriptionId: 's', reason: 'contract ended' }, 400),
    'terminatedBeforeItsEnd', ['subscription s', iso(365), iso(400), 'credence subscription expire s']],
  ["review 288: a node registered naming another node's credential as its bootstrap", 'node', [],
    e('NodeRegistered', { nodeId: 'n', profile: {}, bootstrapCredentialId: 'b' }, 10, { bootstrap: nodeCred('enrolled', { credentialId: 'b', owner: { kind: 'node', id: 'other' } }) }),
    'bootstrapNotYetRecorded', ['node n', 'credential b is recorded already, owned by node:other']],
  ['a node enrolled under no recorded subscription', 'node', GIVEN.node, e('NodeEnrolled', { nodeId: 'n', subscriptionId: 's9', cseId: '/n' }, 10, { subscription: undefined }),
    'subscriptionExists', ['node n', 'subscription s9 is not recorded']],
  ['a node enrolled under an expired subscription', 'node', GIVEN.node, e('NodeEnrolled', { nodeId: 'n', subscriptionId: 's', cseId: '/n' }, 10, { subscription: view('expired', activeSub.context) }),
    'subscriptionActive', ['subscription s is expired', iso(365), iso(10)]],
  ['review 234: a node moved off a subscription that was terminated', 'node', GIVEN.nodeEnrolled,
    e('NodeEnrolled', { nodeId: 'n', subscriptionId: 's2' }, 20, { subscription: view('active', { ...activeSub.context, subscriptionId: 's2' }), currentSubscription: view('revoked', activeSub.context) }),
    'currentSubscriptionServes', ['node n moves to subscription s2', 'subscription s is revoked', iso(365), `this is ${iso(20)}`]],
  ['review 234: a node moved off a subscription past its notAfter', 'node', GIVEN.nodeEnrolled,
    e('NodeEnrolled', { nodeId: 'n', subscriptionId: 's2' }, 400, { subscription: view('active', { ...activeSub.context, subscriptionId: 's2', notAfter: at(800) }), currentSubscription: activeSub }),
    'currentSubscriptionServes', ['subscription s is active', `to ${iso(365)}, and this is ${iso(400)}`]],
  ['a node enrolment expired with a subscription it is not enrolled under', 'node', GIVEN.nodeEnrolled,
    e('NodeEnrolmentExpired', { nodeId: 'n', subscriptionId: 's2' }, 400, { subscription: view('expired', activeSub.context) }), 'subscriptionIsCurrent', ['enrolled under, s', 'names s2']],
  ['a node enrolment expired while its subscription serves', 'node', GIVEN.nodeEnrolled, e('NodeEnrolmentExpired', { nodeId: 'n', subscriptionId: 's' }, 20, { subscription: activeSub }),
    'subscriptionEnded', ['subscription s is active', iso(365), iso(20)]],
  ['a node releasing an association it never recorded', 'node', nodeAssociated, e('NodeAssociationReleased', { nodeId: 'n', associationId: 'zz' }), 'associationIsLive', ['node n', 'association zz is not']],
  ['a node recording the same association twice', 'node', nodeAssociated, e('NodeAssociated', { nodeId: 'n', associationId: 'a1' }, 10, a1), 'associationIsNew', ['node n', 'association a1 is already live']],
  ['review 234: a node recording an association not recorded', 'node', GIVEN.nodeEnrolled, e('NodeAssociated', { nodeId: 'n', associationId: 'a2' }, 10, { association: undefined }),
    'associationNamesThisNode', ['node n', 'association a2 is not recorded']],
  ['review 234: a node recording another node\'s association', 'node', GIVEN.nodeEnrolled, e('NodeAssociated', { nodeId: 'n', associationId: 'a1' }, 10, { association: assocOf('associated', { nodeId: 'm' }) }),
    'associationNamesThisNode', ['node n', 'association a1 names node m']],
  ['review 234: a node releasing an association that has not ended', 'node', nodeAssociated, e('NodeAssociationReleased', { nodeId: 'n', associationId: 'a1' }, 10, { association: assocOf('associated') }),
    'associationEnded', ['node n', 'association a1 is associated']],
  ['a credential whose window closes before it opens', 'credential', [], issued({ notBefore: iso(10), notAfter: iso(5) }), 'validityWindowOrdered', ['credential c', iso(10), iso(5)]],
  // Review 249: a purpose its owner's kind takes.
  ['a credential of purpose application issued to a node', 'credential', [], issued({ purpose: 'application' }), 'purposeFitsOwner',
    ['credential c has purpose application', 'its owner node:n is a node, which takes only bootstrap or service']],
  ['a credential of purpose bootstrap issued to an App-ID', 'credential', [], issued({ purpose: 'bootstrap', owner: { kind: 'app', id: 'Rapp' } }, { owner: view('enrolled') }), 'purposeFitsOwner',
    ['credential c has purpose bootstrap', 'its owner app:Rapp is an App-ID, which takes only application']],
  ['a credential for a revoked node', 'credential', [], issued({}, { owner: view('revoked') }), 'ownerIsLive', ['node:n', 'node n is revoked']],
  ['a CSE-ID credential for a node that no longer holds the CSE-ID', 'credential', [], issued({ owner: { kind: 'cse', id: '/c', nodeId: 'n' } }, { owner: view('enrolled', { cseId: '/other' }) }),
    'ownerIsLive', ['cse:/c@node:n', 'node n is enrolled', 'holds CSE-ID /other']],
  ['a successor of a revoked predecessor', 'credential', [], issued({ predecessorId: 'p' }, { owner: view('enrolled'), predecessor: nodeCred('revoked', { credentialId: 'p' }) }),
    'predecessorIsLive', ['predecessor p is revoked']],
  ["a successor on its predecessor's key", 'credential', [], issued({ predecessorId: 'p' }, { owner: view('enrolled'), predecessor: nodeCred('enrolled', { credentialId: 'p', fingerprint: FINGERPRINT }) }),
    'keyIsNew', ['credential c carries the key of its predecessor p']],
  ["a credential on its node's factory key", 'credential', [], issued({}, { owner: view('enrolled'), bootstrap: nodeCred('enrolled', { credentialId: 'b', purpose: 'bootstrap', fingerprint: FINGERPRINT }) }),
    'keyIsNew', ["credential c carries the key of its node's bootstrap credential b"]],
  // SER-010: the key another credential, of any node and whatever its state, was issued on; or only claimed for one.
  ["a credential on a key another node's revoked credential was issued on", 'credential', [],
    issued({}, { owner: view('enrolled'), keyHolder: nodeCred('revoked', { credentialId: 'x', owner: { kind: 'node', id: 'other' }, fingerprint: FINGERPRINT }) }),
    'keyNeverCertified', ['SER-010', 'credential c carries the key credential x was issued on']],
  ['a credential on a key claimed for a credential never recorded', 'credential', [], issued({}, { owner: view('enrolled'), keyHolder: undefined }),
    'keyNeverCertified', ['credential c carries a key already certified for another credential']],
  // Review 238: a successor keeps its predecessor's purpose, at its issue and at the rotation onto it.
  ['a service credential issued as the successor of its node\'s bootstrap credential', 'credential', [],
    issued({ predecessorId: 'p' }, { owner: view('enrolled'), predecessor: nodeCred('enrolled', { credentialId: 'p', purpose: 'bootstrap' }) }),
    'successorKeepsPurpose', ['HLR-212', 'credential c has purpose service, and its predecessor p has purpose bootstrap']],
  ['a rotation of a service credential onto a bootstrap credential', 'credential', credEnrolled, rotation({ successor: successor('initialized', { purpose: 'bootstrap' }) }),
    'successorKeepsPurpose', ['credential c has purpose service, and its successor c2 has purpose bootstrap']],
  ['a successor of a predecessor never recorded', 'credential', [], issued({ predecessorId: 'p' }, { owner: view('enrolled'), predecessor: undefined }), 'predecessorIsLive', ['predecessor p is not recorded']],
  ['a credential provisioned after its node was revoked', 'credential', GIVEN.credential, { ...provisioned, facts: { owner: view('revoked') } }, 'ownerIsLive',
    ['credential c is provisioned only while its owner is live', 'node:n', 'node n is revoked']],
  ['an AE-ID credential provisioned after its App-ID was revoked', 'credential', [issued({ owner: ae }, { owner: view('initialized') })], { ...provisioned, facts: { owner: view('revoked') } },
    'ownerIsLive', ['ae:Cae@app:Rapp', 'App-ID Rapp is revoked']],
  ['review 314: a rotation started after its node was revoked', 'credential', credEnrolled, rotation({ successor: successor(), owner: view('revoked') }), 'ownerIsLive',
    ['credential c is rotated only while its owner is live', 'node:n', 'node n is revoked']],
  ['a credential provisioned at its notAfter', 'credential', GIVEN.credential, { ...provisioned, at: at(100) }, 'notExpiredYet', ['credential c', iso(100)]],
  ['a credential expired before its notAfter', 'credential', credEnrolled, e('CredentialExpired', { credentialId: 'c' }, 99), 'notAfterReached', ['credential c', iso(100), iso(99)]],
  ['remote provisioning on a revoked bootstrap credential', 'credential', GIVEN.credential,
    e('CredentialProvisioned', { credentialId: 'c', method: 'remote-provisioning', bootstrapCredentialId: 'b' }, 10, { bootstrap: nodeCred('revoked', { credentialId: 'b', purpose: 'bootstrap' }) }),
    'bootstrapIsUsable', ['credential c', 'bootstrap credential b is revoked']],
  ["remote provisioning on another node's bootstrap credential", 'credential', GIVEN.credential,
    e('CredentialProvisioned', { credentialId: 'c', method: 'remote-provisioning', bootstrapCredentialId: 'b' }, 10, { bootstrap: nodeCred('enrolled', { credentialId: 'b', owner: { kind: 'node', id: 'other' } }) }),
    'bootstrapIsUsable', ['bootstrap credential b is owned by node:other']],
  ['review 288: remote provisioning on a service credential of the same node', 'credential', GIVEN.credential,
    e('CredentialProvisioned', { credentialId: 'c', method: 'remote-provisioning', bootstrapCredentialId: 'b' }, 10, { bootstrap: nodeCred('enrolled', { credentialId: 'b' }), owner: view('enrolled', { nodeId: 'n' }) }),
    'bootstrapIsFactoryCredential', ['credential c', 'credential b has purpose service']],
  ['review 288: remote provisioning on a bootstrap credential other than the one the node registered with', 'credential', GIVEN.credential,
    e('CredentialProvisioned', { credentialId: 'c', method: 'remote-provisioning', bootstrapCredentialId: 'b' }, 10,
      { bootstrap: nodeCred('enrolled', { credentialId: 'b', purpose: 'bootstrap' }), owner: view('enrolled', { nodeId: 'n', bootstrapCredentialId: 'b0' }) }),
    'bootstrapIsFactoryCredential', ['its node registered with bootstrap credential b0']],
  ["review 288: a node's bootstrap credential other than the one it registered with", 'credential', [],
    issued({ purpose: 'bootstrap' }, { owner: view('enrolled', { nodeId: 'n', bootstrapCredentialId: 'b0' }) }),
    'bootstrapNamedByItsNode', ['credential c', 'node n registered with bootstrap credential b0']],
  ["review 290: the bootstrap id a node registered with, issued to its CSE-ID with purpose service", 'credential', [],
    issued({ credentialId: 'b0', owner: { kind: 'cse', id: '/n', nodeId: 'n' } }, { owner: view('enrolled', { nodeId: 'n', cseId: '/n', bootstrapCredentialId: 'b0' }) }),
    'bootstrapNamedByItsNode', ['only as its bootstrap', 'credential b0 is issued with purpose service to cse:/n', 'node n registered with bootstrap credential b0']],
  ["review 290: a bootstrap successor to a node that registered its factory credential", 'credential', [],
    issued({ credentialId: 'b1', purpose: 'bootstrap', predecessorId: 'b0' }, { owner: view('enrolled', { nodeId: 'n', bootstrapCredentialId: 'b0' }), predecessor: nodeCred('enrolled', { credentialId: 'b0', purpose: 'bootstrap' }) }),
    'factoryCredentialNotRotated', ['remote provisioning authenticates on', 'README "device init"', 'credential b1 is issued as the successor of bootstrap credential b0', 'node n registered with bootstrap credential b0']],
  ['remote provisioning naming no bootstrap credential', 'credential', GIVEN.credential, e('CredentialProvisioned', { credentialId: 'c', method: 'remote-provisioning' }), 'bootstrapIsUsable',
    ['names no bootstrap credential']],
  ["a node's service credential provisioned after its subscription was terminated", 'credential', GIVEN.credential,
    { ...provisioned, facts: { owner: view('enrolled', { subscriptionId: 's' }), subscription: view('revoked', activeSub.context) } }, 'subscriptionServes', ['node n', 'credential c', 'subscription s is revoked']],
  ["review 197: a node's service credential provisioned past the end of its subscription", 'credential', GIVEN.credential,
    { ...provisioned, facts: { owner: view('enrolled', { subscriptionId: 's' }), subscription: view('active', { ...activeSub.context, notAfter: at(50) }) } }, 'endsWithinSubscription',
    ['node n', 'credential c', `notAfter ${iso(100)}`, `subscription s ends at ${iso(50)}`, 'keyNeverCertified', `revoke c and issue a successor on a new key with notAfter at or before ${iso(50)}`]],
  ["review 205: a node's service credential issued past the end of the subscription its node is enrolled under", 'credential', [],
    issued({}, { owner: view('enrolled', { nodeId: 'n', subscriptionId: 's' }), subscription: view('active', { ...activeSub.context, notAfter: at(50) }) }), 'endsWithinSubscription',
    ['node n', 'credential c is issued only if', `notAfter ${iso(100)}`, `subscription s ends at ${iso(50)}`, `issue it with notAfter at or before ${iso(50)}`]],
  ['a CSE-ID credential provisioned into a node that no longer holds it', 'credential',
    [issued({ owner: { kind: 'cse', id: '/c', nodeId: 'n' } }, { owner: view('enrolled', { cseId: '/c' }) })],
    { ...provisioned, facts: { owner: view('enrolled', { cseId: '/other' }) } }, 'cseIdHeldByItsNode', ['CSE-ID /c', 'node n holds CSE-ID /other']],
  ['review 346: a receipt giving the service parameters its node had before it moved', 'credential', GIVEN.credential,
    e('CredentialProvisioned', { credentialId: 'c', method: 'pre-provisioning', receipt: { version: 2, serviceParameters: { cseId: '/n', m2mSubId: 's' } } }, 10, {
      owner: view('enrolled', { nodeId: 'n', subscriptionId: 's2', cseId: '/n' }), subscription: activeSub,
    }),
    'receiptServiceParametersCurrent', ['credential c', 'M2M-Sub-ID s and CSE-ID /n', 'node n is enrolled under subscription s2 with CSE-ID /n']],
  ['a credential recording the same association twice', 'credential', credAssociated, e('CredentialAssociated', { credentialId: 'c', associationId: 'a1' }, 10, a1), 'associationIsNew', ['credential c', 'association a1']],
  ['review 234: a credential recording another credential\'s association', 'credential', credEnrolled, e('CredentialAssociated', { credentialId: 'c', associationId: 'a1' }, 10, { association: assocOf('expired', { credentialId: 'c9' }) }),
    'associationNamesThisCredential', ['credential c', 'association a1 names credential c9']],
  ['review 234: a credential releasing an association that has not ended', 'credential', credAssociated, e('CredentialAssociationReleased', { credentialId: 'c', associationId: 'a1' }, 10, { association: assocOf('associated') }),
    'associationEnded', ['credential c', 'association a1 is associated']],
  ['a credential releasing an association it never recorded', 'credential', credAssociated, e('CredentialAssociationReleased', { credentialId: 'c', associationId: 'zz' }), 'associationIsLive', ['association zz is not']],
  ['review: a rotation onto a successor that does not exist, its overlap ending in 2020', 'credential', credEnrolled,
    rotation({ successor: undefined }, '2020-06-01T00:00:00.000Z'), 'successorLinked', ['credential c', 'successor c2 is not recorded', 'the overlap ends at 2020-06-01T00:00:00.000Z', iso(10)]],
  ["a rotation onto another node's revoked successor", 'credential', credEnrolled, rotation({ successor: successor('revoked', { owner: { kind: 'node', id: 'other' } }) }), 'successorLinked',
    ['successor c2 is revoked', 'successor c2 is owned by node:other']],
  ['a rotation onto a successor that ends before the overlap does', 'credential', credEnrolled, rotation({ successor: successor('initialized', { notAfter: at(15) }) }), 'successorLinked',
    [`to ${iso(15)}`, `end of the overlap ${iso(20)}`]],
  ['a second rotation while the first stands', 'credential', credRotating, rotation({ successor: successor(), previousSuccessor: successor() }), 'successorLinked', ['rotation to c2 stands']],
  ['review 221: a rotation whose overlap ends before its predecessor is valid', 'credential', [issued({ notBefore: iso(30) }), provisioned],
    rotation({ successor: successor() }), 'overlapEndsAfterNotBefore', ['credential c', `ends at ${iso(20)}`, `not after its notBefore ${iso(30)}`]],
  ['abandoning a rotation never started', 'credential', credEnrolled, e('CredentialRotationAbandoned', { credentialId: 'c', successorId: 'c2' }, 20, { successor: successor() }),
    'rotationAbandonable', ['credential c', 'no rotation standing']],
  ['abandoning a rotation whose successor the node holds', 'credential', credRotating,
    e('CredentialRotationAbandoned', { credentialId: 'c', successorId: 'c2' }, 15, { successor: successor('enrolled', { provisionedAt: at(11) }) }), 'rotationAbandonable', ['holds successor c2', iso(15)]],
  ['revoking as superseded while the node does not hold the successor', 'credential', credRotating,
    e('CredentialRevoked', { credentialId: 'c', reason: 'superseded' }, 15, { successor: successor('revoked', { provisionedAt: at(11), endedAt: at(12) }) }), 'handedOver',
    ['successor c2', 'is revoked', iso(15)]],
  ['revoking again a credential revoked as superseded, for another reason than keyCompromise', 'credential',
    [...credEnrolled, e('CredentialRevoked', { credentialId: 'c', reason: 'superseded' }, 15)],
    e('CredentialRevoked', { credentialId: 'c', reason: 'cessationOfOperation' }, 16), 'raisesToKeyCompromise',
    ['credential c was revoked as superseded', iso(15), 'raising it to keyCompromise, once']],
  ['an App-ID enrolled with another application\'s credential', 'application', GIVEN.application, enrolApp('c', 10, { credential: appCred('enrolled', { owner: { kind: 'app', id: 'Rother' } }) }),
    'credentialIsForThisApp', ['app:Rother']],
  ['an App-ID enrolled with a credential at its notAfter', 'application', GIVEN.application, enrolApp('c', 100, { credential: appCred('enrolled', { credentialId: 'c' }) }),
    'credentialWithinItsWindow', ['App-ID Rapp', 'credential c', iso(100)]],
  ['an App-ID moved onto a credential past its notAfter', 'application', appEnrolled, enrolApp('c2', 100, { credential: appCred('enrolled', { credentialId: 'c2' }), currentCredential: appCred('enrolled', { credentialId: 'c' }) }),
    'credentialReplacesCurrent', ['credential c2', iso(100)]],
  ['an App-ID enrolled again with the credential it is enrolled with', 'application', appEnrolled, enrolApp('c'), 'credentialReplacesCurrent', ['credential c is the one it is enrolled with']],
  ["review 343: an App-ID enrolled with a credential past its rotation's overlap, before the scheduler's tick", 'application', GIVEN.application,
    enrolApp('c', 30, { credential: appCred('enrolled', { credentialId: 'c', successorId: 'c2', overlapEndsAt: at(20) }) }), 'credentialBeforeOverlapEnds',
    ['App-ID Rapp', 'successor c2', `credential c is past the end of its rotation's overlap at ${iso(20)}, and this is ${iso(30)}`]],
  ['an App-ID enrolment ended while its credential is in use', 'application', appEnrolled,
    e('ApplicationEnrolmentEnded', { appId: 'Rapp', credentialId: 'c', reason: 'keyCompromise' }, 20, { credential: appCred('enrolled', { credentialId: 'c' }) }), 'enrolledCredentialEnded', ['credential c is enrolled']],
  // Review 249: past its notAfter, before the expiry scheduler's tick records it expired, the credential has not ended.
  ["an App-ID enrolment ended past its credential's notAfter, before its expiry is recorded", 'application', appEnrolled,
    e('ApplicationEnrolmentEnded', { appId: 'Rapp', credentialId: 'c', reason: 'cessationOfOperation' }, 101, { credential: appCred('enrolled', { credentialId: 'c' }) }), 'enrolledCredentialEnded',
    ['credential c is enrolled', `valid from ${iso(0)} to ${iso(100)}, and this is ${iso(101)}`, 'its validity has passed', 'when the expiry scheduler records its expiry (CredentialExpired)',
      'the enrolment can end then, as cessationOfOperation']],
  ["an App-ID enrolment ended for another reason than its credential's end", 'application', appEnrolled,
    e('ApplicationEnrolmentEnded', { appId: 'Rapp', credentialId: 'c', reason: 'certificateHold' }, 20, { credential: appCred('revoked', { credentialId: 'c', revocationReason: 'keyCompromise' }) }),
    'enrolledCredentialEnded', ['certificateHold', 'keyCompromise']],
  ['an App-ID moved off a credential revoked for a key compromise', 'application', appEnrolled,
    enrolApp('c2', 10, { credential: appCred('enrolled', { credentialId: 'c2' }), currentCredential: appCred('revoked', { credentialId: 'c', revocationReason: 'keyCompromise' }) }), 'currentCredentialHandsOver',
    ['credential c is revoked as keyCompromise']],
  ['a first App-ID enrolment naming a credential it replaces', 'application', GIVEN.application, enrolApp('c', 10, undefined, 'c0'), 'replacesCurrent', ['App-ID Rapp', 'it names c0']],
  ['an App-ID move from a credential it is not enrolled with', 'application', appEnrolled,
    enrolApp('c2', 10, { credential: appCred('enrolled', { credentialId: 'c2' }), currentCredential: appCred() }, 'c0'), 'movesFromCurrent', ['enrolled with, c', 'it names c0']],
  ['an App-ID recording the same instance twice', 'application', appAssociated, e('ApplicationInstanceAssociated', { appId: 'Rapp', aeId: 'Cae1', associationId: 'a1' }, 10, a1), 'instanceIsNew', ['association a1']],
  ['review 234: an App-ID recording an instance of an association never established', 'application', appEnrolled,
    e('ApplicationInstanceAssociated', { appId: 'Rapp', aeId: 'Cae1', associationId: 'a1' }, 10, { association: assocOf('revoked', { establishedAt: undefined }) }),
    'associationNamesThisInstance', ['App-ID Rapp', 'AE Cae1', 'association a1 is revoked, never established']],
  ['review 234: an App-ID recording an instance of a CSE\'s association', 'application', appEnrolled,
    e('ApplicationInstanceAssociated', { appId: 'Rapp', aeId: 'Cae1', associationId: 'a1' }, 10, { association: assocOf('associated', { registree: cse }) }),
    'associationNamesThisInstance', ['association a1 names CSE /n']],
  ['review 234: an App-ID releasing an instance whose association has not ended', 'application', appAssociated,
    e('ApplicationInstanceReleased', { appId: 'Rapp', associationId: 'a1' }, 10, { association: assocOf('associated') }), 'associationEnded', ['App-ID Rapp', 'association a1 is associated']],
  ['an App-ID releasing an instance it never recorded', 'application', GIVEN.application, e('ApplicationInstanceReleased', { appId: 'Rapp', associationId: 'a1' }), 'instanceIsLive', ['association a1 is not']],
  ['an association on a revoked credential', 'association', [], configured({ ...served, credential: nodeCred('revoked') }), 'credentialUsable', ['association a', 'credential c is revoked']],
  ['an association on a credential past its notAfter', 'association', [], configured(served, cse, 100), 'credentialUsable', [`to ${iso(100)}`, `this is ${iso(100)}`]],
  ["an association on a credential past the end of its rotation's overlap", 'association', [],
    configured({ ...served, credential: nodeCred('enrolled', { successorId: 'c2', overlapEndsAt: at(10) }) }), 'credentialUsable', [`credential c is past the end of its rotation's overlap at ${iso(10)}`]],
  ["an association on the node's bootstrap credential", 'association', [], configured({ ...served, credential: nodeCred('enrolled', { purpose: 'bootstrap' }) }), 'credentialNotBootstrap', ['credential c has purpose bootstrap']],
  ['an association on the credential the node registered with', 'association', [], configured({ ...served, node: servedNode({ bootstrapCredentialId: 'c' }) }), 'credentialNotBootstrap',
    ['credential c is the one node n registered with']],
  ["an association on the node's factory key issued again", 'association', [],
    configured({ ...served, credential: nodeCred('enrolled', { fingerprint: FINGERPRINT }), bootstrap: nodeCred('enrolled', { credentialId: 'boot', purpose: 'bootstrap', fingerprint: FINGERPRINT }) }),
    'credentialNotBootstrap', ["carries the key of node n's bootstrap credential boot"]],
  ['an association with its Registree as its Registrar CSE', 'association', [],
    e('AssociationConfigured', { associationId: 'a', nodeId: 'n', credentialId: 'c', registree: cse, registrarCseId: '/n' }, 10, served), 'registrarIsNotRegistree',
    ['association a', 'registrarCseId /n is the Registree CSE /n itself']],
  ['an association after the subscription was terminated', 'association', [], configured({ ...served, subscription: view('terminated', activeSub.context) }), 'subscriptionServes', ['node n', 'subscription s is terminated']],
  ['review 197: an association established past the end of its subscription', 'association', assocConfigured,
    established({ ...served, subscription: view('active', { ...activeSub.context, notAfter: at(30) }) }), 'endsWithinSubscription',
    ['association a', `expires at ${iso(40)}`, `subscription s ends at ${iso(30)}`, `expiresAt at or before ${iso(30)}`]],
  ['an association with another node\'s credential', 'association', [], configured({ ...served, credential: nodeCred('enrolled', { owner: { kind: 'node', id: 'other' } }) }), 'credentialBelongsToRegistree',
    ['CSE /n', 'credential c is owned by node:other']],
  ['a handshake under a CSE-ID its node no longer holds', 'association', assocConfigured, established({ ...served, node: servedNode({ cseId: '/n-renumbered' }) }), 'credentialBelongsToRegistree',
    ['node n holds CSE-ID /n-renumbered']],
  ['an association for a node not enrolled', 'association', [], configured({ ...served, node: view('initialized', { cseId: '/n' }) }), 'nodeEnrolled', ['node n is initialized']],
  // Review 249: an AE's App-ID never registered is named by the rule that refuses first, not only by applicationEnrolled.
  ['an AE association under an App-ID never registered, on another App-ID\'s credential', 'association', [],
    configured({ ...served, credential: appCred('enrolled', { credentialId: 'c', owner: { kind: 'app', id: 'Rbilling' } }) }, { kind: 'ae', id: 'Cae', appId: 'Rnone' }), 'credentialBelongsToRegistree',
    ['AE Cae of App-ID Rnone', 'credential c is owned by app:Rbilling', 'App-ID Rnone is not recorded']],
  ['an AE association under an App-ID never registered, on a revoked credential', 'association', [],
    configured({ ...served, credential: nodeCred('revoked') }, { kind: 'ae', id: 'Cae', appId: 'Rnone' }), 'credentialUsable', ['credential c is revoked', 'App-ID Rnone is not recorded']],
  ['an AE association under a revoked App-ID', 'association', [], configured({ ...aeServed, application: view('revoked') }, ae), 'applicationEnrolled', ['App-ID Rapp is revoked']],
  // Review 249: of its App-ID's credentials, an AE's association takes only the one the App-ID is enrolled with now.
  ['an AE association on a credential of its App-ID it was never enrolled with', 'association', [], configured({ ...aeServed, credential: appCred('enrolled', { credentialId: 'c' }) }, ae),
    'appCredentialIsEnrolled', ['AE Cae of App-ID Rapp', 'credential c is not the one App-ID Rapp is enrolled with', 'App-ID Rapp is enrolled with credential ac']],
  ['an AE association on a credential of purpose service owned by its App-ID', 'association', [],
    configured({ ...onAppCred, credential: appCred('enrolled', { credentialId: 'c', purpose: 'service' }) }, ae), 'appCredentialIsEnrolled',
    ['credential c has purpose service', 'App-ID Rapp is enrolled with credential c']],
  ['an AE handshake on the credential its App-ID was moved off', 'association', assocOnAppCred,
    established({ ...onAppCred, application: appEnrolledWith('c2'), applicationCredential: appCred('enrolled', { credentialId: 'c2' }) }), 'appCredentialIsEnrolled',
    ['credential c is not the one App-ID Rapp is enrolled with', 'App-ID Rapp is enrolled with credential c2']],
  ["an AE association whose App-ID's credential was revoked", 'association', [], configured({ ...aeServed, applicationCredential: appCred('revoked') }, ae), 'applicationCredentialStands',
    ['App-ID Rapp', 'credential ac is revoked']],
  ["an AE handshake after the App-ID's credential's notAfter", 'association', assocAeConfigured, established({ ...aeServed, applicationCredential: appCred('enrolled', { notAfter: at(10) }) }),
    'applicationCredentialStands', [`credential ac is valid from ${iso(0)} to ${iso(10)}`]],
  ['an association outliving its credential', 'association', assocConfigured, established(served, iso(101)), 'lifetimeShorterThanCredential', ['association a', iso(101), 'credential c', iso(100)]],
  ['an association outliving its credential\'s rotation overlap', 'association', assocConfigured,
    established({ ...served, credential: nodeCred('enrolled', { successorId: 'c2', overlapEndsAt: at(20) }) }, iso(30)), 'endsWithinOverlap', ['association a', iso(30), 'credential c onto c2', iso(20)]],
  ['an association expired before its expiresAt', 'association', assocEstablished, e('AssociationExpired', { associationId: 'a' }, 39), 'expiryReached', [iso(40), iso(39)]],
  ['an association revoked as affiliationChanged while its node holds its CSE-ID', 'association', assocEstablished,
    e('AssociationRevoked', { associationId: 'a', reason: 'affiliationChanged' }, 10, { node: servedNode(), credential: nodeCred() }), 'registreeMovedAway',
    ['node n holds CSE-ID /n and is enrolled', 'credential c is enrolled']],
  ['a pseudonym for a revoked node', 'pseudonym', [], e('PseudonymRotated', { pseudonym: `p-${'a'.repeat(26)}`, nodeId: 'meter-3', epoch: 3, trigger: 'demand' }, 10, { node: view('revoked') }),
    'nodeIsLive', ['its node is revoked', 'epoch 3 (trigger demand)']],
];

/** Guards that only choose between two transitions of one event: with the other open, they never refuse alone. */
const CHOOSERS = ['application.hasLiveInstances', 'application.lastInstance', 'credential.lastAssociation', 'node.lastAssociation'];

const from = (kind: EntityKind, given: MachineEvent[]): EntitySnapshot =>
  given.reduce((snapshot, event) => {
    const verdict = evaluate(kind, snapshot, event);
    if (!verdict.ok) throw new Error(`given ${event.type} refused in ${verdict.state} by ${verdict.rule}`);
    return verdict.snapshot;
  }, initialSnapshot(kind, 'x'));

describe('every guard refusal says what the rule wants and what it found', () => {
  it.each(CASES)('%s', (_name, kind, given, event, rule, found) => {
    const snapshot = from(kind, given);
    const verdict = evaluate(kind, snapshot, event);
    expect(verdict.ok).toBe(false);
    if (verdict.ok) return;
    expect(verdict.rule).toBe(rule);
    const error = refusalError(kind, `${kind}-x`, true, event.type, verdict);
    // The problem stays the verdict; only the message grows.
    expect(error.problem).toMatchObject({ code: 'illegal_transition', state: verdict.state, attempted: event.type, rule });
    expect(error.problem).not.toHaveProperty('because');
    const head = `${kind}-x: ${event.type} refused in state ${verdict.state} by rule ${rule}: `;
    expect(error.message.startsWith(head), error.message).toBe(true);
    const because = error.message.slice(head.length);
    expect(because.length).toBeGreaterThan(40);
    for (const fact of found) expect(because, `${rule} names ${fact}`).toContain(fact);
    // Never key material, and a pseudonym's refusal never names its node beside it (SER-011).
    for (const secret of [FINGERPRINT, PUBLIC_KEY, 'meter-3']) expect(error.message).not.toContain(secret);
  });

  it('leaves no guard that can refuse without a reason, and drives each of them to refuse above', () => {
    const guards = ENTITY_KINDS.flatMap((kind) =>
      Object.keys((MACHINES[kind] as AnyStateMachine).implementations.guards).map((guard) => `${kind}.${guard}`),
    ).filter((g) => !CHOOSERS.includes(g));
    const withReason = ENTITY_KINDS.flatMap((kind) => Object.keys(REFUSAL_REASONS[kind]).map((guard) => `${kind}.${guard}`));
    expect([...withReason].sort()).toEqual([...guards].sort());
    expect([...new Set(CASES.map(([, kind, , , rule]) => `${kind}.${rule}`))].sort()).toEqual([...guards].sort());
  });
});

describe('the refusal the review found, through the engine', () => {
  let credence: Credence | undefined;
  afterEach(async () => {
    await credence?.close();
    credence = undefined;
  });

  it('startCredentialRotation onto a successor not recorded, its overlap ending in 2020, names both and writes nothing', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential('cred-1'), cmd.provisionCredential('cred-1')]) await c.engine.execute(x);
    const before = await footprint(c.store);
    const error = await rejection(c.engine.execute(cmd.startCredentialRotation('2020-06-01T00:00:00.000Z', 'cred-1', 'cred-9')));
    expect(await footprint(c.store)).toEqual(before);
    expect(error.problem).toMatchObject({ code: 'illegal_transition', state: 'enrolled', attempted: 'CredentialRotationStarted', rule: 'successorLinked' });
    expect(error.message).toMatch(/by rule successorLinked: a rotation of credential cred-1 .*; successor cred-9 is not recorded, and the overlap ends at 2020-06-01T00:00:00.000Z, not after this instant 2026-01-01T00:00:00.000Z$/);
  });
});
