import { canonicalJson, sha256, toHex, utf8 } from '../../domain/crypto/index.ts';
import { ENTITY_KINDS } from '../../domain/streams.ts';
import { MACHINES } from '../../machines/index.ts';

/**
 * What the machines a replay judged by are, named as a read model's rules are (projections/runtime/rules.ts):
 * `fingerprint` (SHA-256, hex) changes when a machine's states, transitions, guards, actions or initial context do,
 * `description` says it to a person.
 */
export interface MachinesRules {
  readonly fingerprint: string;
  readonly description: string;
}

/**
 * Bumped when the machines judge by other rules than their own definitions show: a helper their guards or actions
 * call (machines/guards.ts, heldAt and the like) reads a context or a fact another way. The fingerprint sees each
 * inline function's source, not what it calls. Bumped too when replay's own rules find otherwise (the verifier, the
 * command catalog it holds events to, the workers' passes and merge; review 284): a checkpoint holds their findings.
 * v2 (review 165): provisioning reads its owner's holder for every owner kind (machines/facts.ts) and is held to
 * ownerIsLive; a configuration naming its Registree as its Registrar CSE is refused (registrarIsNotRegistree).
 * v3 (review 195): a credential is issued only on a new key, neither its predecessor's nor its node's bootstrap
 * credential's (keyIsNew; HLR-212, RS-16), which issuing reads as a fact (machines/facts.ts).
 * v4 (SER-010): a credential is issued only on a key no other credential in the fleet was ever issued on
 * (keyNeverCertified), read from an index of certified keys (the store's; replay's as of the event's position). And
 * (review 197) a node's service credential is provisioned, and an association established, only if it ends by the end
 * of the node's subscription (endsWithinSubscription; seed 003, 11.2.1), so a lapse and an expiry coincide; and (review
 * 205) a node's service credential is issued so too while its node is enrolled under one, before its key is certified.
 * v5: a revoked credential takes a second revocation raising its reason to keyCompromise, once (raisesToKeyCompromise;
 * RFC 5280 5.3.1): a key found compromised after its revocation for another reason. It refuses nothing v4 accepted.
 * v6 (review 221): a rotation's overlap ends after its predecessor's notBefore (overlapEndsAfterNotBefore): one ending
 * before held no overlap, and its handover revoked a credential not yet valid.
 * v7 (review 234): a node moves to another subscription only while the one it is enrolled under still serves it
 * (currentSubscriptionServes; seed 003, 11.2.1, RS-17), which the move reads as a fact (machines/facts.ts): one moved
 * after a termination or past the notAfter escaped the expiry its subscription's end gives every node under it.
 * v8 (review 234): the association bookkeeping (NodeAssociated, CredentialAssociated, ApplicationInstanceAssociated and
 * their releases) reads the association it names as a fact: established, and naming this node, credential or App-ID's
 * AE (associationNamesThisNode, …Credential, …Instance), and ended for a release (associationEnded): a forged record
 * for an association that does not exist, or is another's, kept the entity associated for good.
 * v9 (review 238): a successor keeps its predecessor's purpose (successorKeepsPurpose; HLR-212), judged at its issue
 * and at the rotation onto it: a service credential named as the bootstrap's successor took over from it, and the
 * node, its bootstrap credential revoked as superseded, could never be remotely provisioned again.
 * v10 (review 249): a credential is issued only for a purpose its owner's kind takes (purposeFitsOwner: bootstrap for
 * a node only, application for an App-ID or an AE, service for a node, a CSE or an AE); and a credential owned by an
 * App-ID authenticates its AEs' associations only if it is of purpose application and the one the App-ID is enrolled
 * with now, at configuration and at establishment (appCredentialIsEnrolled; seed 003, 11.2.2): any credential of the
 * App-ID's did, one of purpose service, one never enrolled, one the App-ID was moved off.
 * v11 (review 284): replay's rules, not the machines': workers keep the order of a stream of no entity's that a fact
 * claim planted in the embedded store moves, as one thread does: a checkpoint two workers made lacked the finding of a
 * claim below the stream's last revision, and the revision that later ones are held to. It refuses nothing v10 accepted.
 * Also in v11 (review 288), the machines: a registration names a bootstrap credential not recorded yet
 * (bootstrapNotYetRecorded, read as a fact): one naming another node's credential bound it to both in the pseudonym
 * fold; a node's bootstrap credential, other than a rotation's successor, is the one its node registered with
 * (bootstrapNamedByItsNode); and remote provisioning authenticates on a credential of purpose bootstrap, its node's
 * registered one (bootstrapIsFactoryCredential): a service credential of the same owner passed bootstrapIsUsable.
 * And (review 290): a node that registered a bootstrap credential is issued no successor of purpose bootstrap
 * (factoryCredentialNotRotated): the hello authenticates on the registered one alone, so a rotation left the node
 * never remotely provisionable again; and the id it registered is issued to it or its CSE-ID only as its bootstrap
 * (bootstrapNamedByItsNode). That id issued to another node, or to an App-ID's AE, is not refused: no index of named
 * ids is kept (a node registered naming an id already issued is bootstrapNotYetRecorded's).
 * v12 (review 303): a recorded node's first pseudonym (trigger initial) is taken at any epoch once it ended, as at
 * epoch 0: one registered again after a restore, past its mark, was refused and its frames named no resolvable one.
 * v13 (review 314): a rotation is started only while the credential's owner is live (ownerIsLive on
 * CredentialRotationStarted, its owner's holder read as a fact as provisioning reads it): one started after
 * revokeNode or revokeApplication, before the cascade revoked the credential, was recorded.
 * v14 (review 346): a provisioning's v2 receipt gives the service parameters its owner node has at the commit, the
 * M2M-Sub-ID it is enrolled under and the CSE-ID it holds (receiptServiceParametersCurrent, read from the owner fact;
 * seed 003 11.2.1, RS-17): a node moved by enrolNode between the auth step and the receipt had the provisioning
 * recorded with the old ones, and the device told them. And (review 343) an App-ID is enrolled with, or moved onto, a
 * credential only before its rotation's overlap ends (credentialBeforeOverlapEnds, by credentialUsableAt; seed 003
 * 11.2.2): one past it, before the scheduler's tick, was taken though no AE association could be configured on it.
 * And (review 345) an association is established only if it expires by the end of its credential's standing
 * rotation overlap (endsWithinOverlap on AssociationEstablished): a rotation started after the Registrar's read at
 * the finish let it outlive the handover. And (review 355) a subscription is terminated only before its notAfter
 * (terminatedBeforeItsEnd): one past it, before the scheduler recorded the expiry, was recorded as ended early.
 * Both it and v6's overlapEndsAfterNotBefore are fact guards though they read the event alone (review 356), so that a
 * stored event breaking them loads as every newer rule's does (a plain guard made its entity a broken history).
 */
export const MACHINES_VERSION = 'credence:machines:v14';

/**
 * The guards a version added to an event it did not hold to them before: an event an earlier version stored, legal
 * then, may break one (a provisioning stored after revokeNode, before the cascade revoked the credential), and replay
 * flags it at every run after the upgrade. Its finding says so (refusal-reason.ts; review 167), so an operator reads it
 * as the rule being newer than the event, not as an event written past the engine. Keyed by event type and rule: a
 * rule an older version already held that event to (ownerIsLive on CredentialIssued) is not listed. Add a line with
 * each bump of MACHINES_VERSION that refuses what the last one accepted.
 */
export const RULES_SINCE: readonly { readonly eventType: string; readonly rule: string; readonly since: string }[] = [
  { eventType: 'CredentialProvisioned', rule: 'ownerIsLive', since: 'credence:machines:v2' },
  { eventType: 'AssociationConfigured', rule: 'registrarIsNotRegistree', since: 'credence:machines:v2' },
  { eventType: 'CredentialIssued', rule: 'keyIsNew', since: 'credence:machines:v3' },
  { eventType: 'CredentialIssued', rule: 'keyNeverCertified', since: 'credence:machines:v4' },
  { eventType: 'CredentialProvisioned', rule: 'endsWithinSubscription', since: 'credence:machines:v4' },
  { eventType: 'AssociationEstablished', rule: 'endsWithinSubscription', since: 'credence:machines:v4' },
  { eventType: 'CredentialIssued', rule: 'endsWithinSubscription', since: 'credence:machines:v4' },
  { eventType: 'CredentialRotationStarted', rule: 'overlapEndsAfterNotBefore', since: 'credence:machines:v6' },
  { eventType: 'NodeEnrolled', rule: 'currentSubscriptionServes', since: 'credence:machines:v7' },
  { eventType: 'NodeAssociated', rule: 'associationNamesThisNode', since: 'credence:machines:v8' },
  { eventType: 'NodeAssociationReleased', rule: 'associationNamesThisNode', since: 'credence:machines:v8' },
  { eventType: 'NodeAssociationReleased', rule: 'associationEnded', since: 'credence:machines:v8' },
  { eventType: 'CredentialAssociated', rule: 'associationNamesThisCredential', since: 'credence:machines:v8' },
  { eventType: 'CredentialAssociationReleased', rule: 'associationNamesThisCredential', since: 'credence:machines:v8' },
  { eventType: 'CredentialAssociationReleased', rule: 'associationEnded', since: 'credence:machines:v8' },
  { eventType: 'ApplicationInstanceAssociated', rule: 'associationNamesThisInstance', since: 'credence:machines:v8' },
  { eventType: 'ApplicationInstanceReleased', rule: 'associationNamesThisInstance', since: 'credence:machines:v8' },
  { eventType: 'ApplicationInstanceReleased', rule: 'associationEnded', since: 'credence:machines:v8' },
  { eventType: 'CredentialIssued', rule: 'successorKeepsPurpose', since: 'credence:machines:v9' },
  { eventType: 'CredentialRotationStarted', rule: 'successorKeepsPurpose', since: 'credence:machines:v9' },
  { eventType: 'CredentialIssued', rule: 'purposeFitsOwner', since: 'credence:machines:v10' },
  { eventType: 'AssociationConfigured', rule: 'appCredentialIsEnrolled', since: 'credence:machines:v10' },
  { eventType: 'AssociationEstablished', rule: 'appCredentialIsEnrolled', since: 'credence:machines:v10' },
  { eventType: 'NodeRegistered', rule: 'bootstrapNotYetRecorded', since: 'credence:machines:v11' },
  { eventType: 'CredentialIssued', rule: 'bootstrapNamedByItsNode', since: 'credence:machines:v11' },
  { eventType: 'CredentialIssued', rule: 'factoryCredentialNotRotated', since: 'credence:machines:v11' },
  { eventType: 'CredentialProvisioned', rule: 'bootstrapIsFactoryCredential', since: 'credence:machines:v11' },
  { eventType: 'CredentialRotationStarted', rule: 'ownerIsLive', since: 'credence:machines:v13' },
  { eventType: 'CredentialProvisioned', rule: 'receiptServiceParametersCurrent', since: 'credence:machines:v14' },
  { eventType: 'ApplicationEnrolled', rule: 'credentialBeforeOverlapEnds', since: 'credence:machines:v14' },
  { eventType: 'AssociationEstablished', rule: 'endsWithinOverlap', since: 'credence:machines:v14' },
  { eventType: 'SubscriptionTerminated', rule: 'terminatedBeforeItsEnd', since: 'credence:machines:v14' },
];

/** The version that added `rule` for `eventType` (RULES_SINCE), or undefined for a rule as old as the event's judging. */
export const ruleSince = (eventType: string, rule: string | undefined): string | undefined =>
  rule === undefined ? undefined : RULES_SINCE.find((r) => r.eventType === eventType && r.rule === rule)?.since;

/**
 * SHA-256 of every source file the machines load (machines/index.ts and what it imports) and replay's rules load (the
 * verifier, the worker and their merge; this file hashed with this value blank), as last confirmed for
 * MACHINES_VERSION. A change to any of them fails
 * test/machines-version-is-confirmed-when-the-sources-they-load-change.test.ts until someone decides: bump the
 * version when the machines now judge otherwise, and record the new hash here either way. Without it a changed
 * helper would let a replay go on from snapshots its old code made (review: the bump was a step to remember).
 */
export const MACHINES_SOURCES_CONFIRMED = '82e992882fd4c9d264f4c97fe16f10fbb17601b83b912b900083602e0bbfb3b2';

/**
 * A machine's config and implementations as JSON: a function by its source (as the running build holds it) with its
 * own properties (an `assign` keeps its assignment there). A value met again below itself is named, not walked.
 */
const asJson = (value: unknown, ancestors: Set<object>): unknown => {
  if (value === undefined || typeof value === 'symbol') return null;
  if (typeof value === 'bigint') return value.toString(10);
  if (typeof value !== 'object' && typeof value !== 'function') return value;
  if (value === null) return null;
  if (ancestors.has(value)) return '(cycle)';
  ancestors.add(value);
  try {
    if (Array.isArray(value)) return value.map((v) => asJson(v, ancestors));
    const fields = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, asJson(v, ancestors)]));
    return typeof value === 'function' ? { function: Function.prototype.toString.call(value), ...fields } : fields;
  } finally {
    ancestors.delete(value);
  }
};

let computed: MachinesRules | undefined;

/** The machines of this build, computed once (a few kilobytes of JSON). */
export const machinesRules = (): MachinesRules => {
  if (computed !== undefined) return computed;
  const machines = Object.fromEntries(
    ENTITY_KINDS.map((kind) => [kind, asJson({ config: MACHINES[kind].config, implementations: MACHINES[kind].implementations }, new Set())]),
  );
  const fingerprint = toHex(sha256(utf8(canonicalJson({ version: MACHINES_VERSION, machines }))));
  computed = { fingerprint, description: `the machines ${MACHINES_VERSION} (fingerprint ${fingerprint.slice(0, 16)})` };
  return computed;
};
