import type { ApplicationContext, SubscriptionContext } from '../../../machines/contexts.ts';
import { viewOf, type AssociationContext, type CredentialContext, type NodeContext } from '../../../machines/index.ts';
import { appCredentialIsEnrolled, credentialUsableAt, registreeApplicationCredentialStands, registreeApplicationEnrolled, registreeHeldByNode } from '../../../machines/guards.ts';
import { isWithin, type EntityView } from '../../../machines/types.ts';
import { type KeyHandle } from '../../../domain/ports/index.ts';
import type { Registree } from '../../../domain/events/association.ts';
import { descriptorOf } from './descriptors.ts';
import type { InfrastructureOptions } from './infrastructure-options.ts';
import type { AssociationClosed } from '../association/index.ts';
import { servedAt } from './run-admission.ts';
import type { CredenceError } from '../../../domain/errors.ts';
import { assertUsableCredential, protocolFailure } from '../../../domain/protocols/protocol.ts';
import type { AssociationOutcome } from '../../../domain/protocols/association-messages.ts';
import { realRefusal } from '../shared/decoy.ts';

/** What the Registrar CSE reads of the engine: its options' engine and key registry. */
type Lookups = Pick<InfrastructureOptions, 'engine' | 'registry'>;

/**
 * What a hello looks up where the record names nothing (review 64 F2): no id starts with `~` (domain/ids.ts), so these
 * streams never exist, and reading them costs what reading a real one that is not there would.
 */
const NONE = { node: '~no-node', subscription: '~no-subscription', application: '~no-application', credential: '~no-credential' } as const;

/** The Registree the rules are run on when the association names none: an AE's, so that every rule reads its inputs. */
const NO_REGISTREE = { kind: 'ae', id: 'C~no-registree', appId: NONE.application } as Registree;

/**
 * The M2M service subscription of the node a credential serves: a node's own, or the node holding a CSE owner's
 * CSE-ID (an AE's names none: its association names the node). The same two reads whatever the record names (NONE).
 */
const subscriptionOfOwner = async (o: Lookups, owner: CredentialContext['owner']): Promise<SubscriptionContext | undefined> => {
  const nodeId = owner?.kind === 'node' ? owner.id : owner?.kind === 'cse' ? owner.nodeId : undefined;
  const node = await o.engine.peek('node', nodeId ?? NONE.node);
  const subscriptionId = (node.snapshot.context as NodeContext | undefined)?.subscriptionId;
  const subscription = await o.engine.peek('subscription', subscriptionId ?? NONE.subscription);
  return subscriptionId === undefined ? undefined : (subscription.snapshot.context as SubscriptionContext | undefined);
};

/**
 * A credential a Registree's hello claims, by id and fingerprint, as the Registrar CSE may associate it (`found`), and
 * the credential as read (`view`), so that an association's rules on it (appCredentialIsEnrolled) run on this read, not
 * on a second one the hello of an association would make and be timed by (review 64 F2). `served`: the M2M service
 * subscription of the node its association names, as the caller read it (`undefined`: none), whose end ends the
 * credential for its associations (`subscriptionEndsAt`); not given, its owner's node's is read here.
 */
const readCredential = async (o: Lookups, credentialId: string, fingerprint: string, served?: { readonly subscription: SubscriptionContext | undefined }) => {
  const credential = await o.engine.peek('credential', credentialId);
  const view = viewOf(credential.snapshot);
  // The same reads and rules whatever the id names, then the answer (review 64 F2): before, a wrong fingerprint or a
  // credential never issued stopped before the key registry, so a hello naming one was answered sooner.
  const [handle] = o.registry.live(credential.streamId, 'psk');
  const descriptor = descriptorOf(credential);
  const context = credential.snapshot.context as CredentialContext;
  // Whether it may associate is the association machine's own rule (credentialUsable: seed 003 11.2.2 and 11.3.2;
  // HLR-212), at the engine's instant, so the hello refuses exactly what the record would: found in review, the
  // hello checked the state alone (and the descriptor's window), and a predecessor whose rotation overlap had ended
  // ran its handshake to the finish, refused only when recorded (409), the expiry scheduler not having revoked it.
  const at = o.engine.clock.now().getTime();
  const usable = credentialUsableAt(view, at);
  // Only what its holder is told at the finish (decoy.ts), never whether: outside its validity window the protocol
  // names that from the descriptor (credential_expired, credential_not_yet_valid); inside it, the rule refused a
  // credential its lifecycle ended or handed over to its successor, told as revoked.
  const revoked = !usable && isWithin(at, context);
  // A standing rotation's overlap ends the credential for its associations (HLR-212): the grant is cut to it.
  const { overlapEndsAt } = context;
  // Seed 003 11.2.1: a credential's lifetime corresponds to the M2M service subscription's; no association on it
  // outlives the subscription (review 195: a grant past the contract's end, the device never told). Read whatever
  // the record names, one that cannot exist where it names none (review 64 F2).
  const subscription = served !== undefined ? served.subscription : await subscriptionOfOwner(o, context.owner);
  const subscriptionEndsAt = subscription?.notAfter;
  if (context.fingerprint !== fingerprint || descriptor === undefined) return { view, found: undefined };
  const found = {
    descriptor,
    ...(handle !== undefined ? { handle: handle as KeyHandle } : {}),
    ...(revoked ? { revoked: true } : {}),
    ...(overlapEndsAt !== undefined ? { overlapEndsAt: new Date(overlapEndsAt).toISOString() } : {}),
    ...(subscriptionEndsAt !== undefined ? { subscriptionEndsAt: new Date(subscriptionEndsAt).toISOString() } : {}),
  };
  return { view, found };
};

/** A credential a Registree's hello claims, by id and fingerprint, as the Registrar CSE may associate it (readCredential). */
export const credentialById = async (o: Lookups, credentialId: string, fingerprint: string, served?: { readonly subscription: SubscriptionContext | undefined }) =>
  (await readCredential(o, credentialId, fingerprint, served)).found;

/**
 * What a hello reads of an association and the records its rules look at, in a fixed order: every hello reads the same
 * streams in the same order, then runs every rule, and only then answers (review 64 F2: it stopped at the first rule
 * that failed, so its time told a stranger which one); where the record names no node, subscription, application or
 * credential, one that cannot exist is read instead (NONE).
 */
const readAssociation = async (o: Lookups, associationId: string) => {
  const association = await o.engine.peek('association', associationId);
  const c = association.snapshot.context as AssociationContext;
  const node = await o.engine.peek('node', c.nodeId ?? NONE.node);
  const subscriptionId = (node.snapshot.context as NodeContext | undefined)?.subscriptionId;
  const subscription = await o.engine.peek('subscription', subscriptionId ?? NONE.subscription);
  const registree = c.registree ?? NO_REGISTREE;
  const application = viewOf((await o.engine.peek('application', registree.kind === 'ae' ? registree.appId : NONE.application)).snapshot);
  const enrolledWith = (application.context as unknown as ApplicationContext | undefined)?.credentialId;
  const enrolledCredential = viewOf((await o.engine.peek('credential', enrolledWith ?? NONE.credential)).snapshot);
  return { association, c, node, subscriptionId, subscription, registree, application, enrolledWith, enrolledCredential };
};

type AssociationRead = Awaited<ReturnType<typeof readAssociation>>;

/**
 * The association machine's rules for a handshake of `registreeId` with this Registrar CSE at `at`, each answered;
 * `credential`: the one the association was configured with, as read.
 */
const rulesOf = (r: AssociationRead, credential: EntityView, registrarCseId: string, registreeId: string, at: number) => {
  const { c, node, subscriptionId, subscription, registree, application, enrolledWith, enrolledCredential } = r;
  return {
    waiting: String(r.association.snapshot.value) === 'initialized' && c.credentialId !== undefined,
    forThisRegistree: c.registree !== undefined && c.registree.id === registreeId && c.registrarCseId === registrarCseId,
    // No handshake for a node whose subscription ended while the cascade has not ended its enrolment yet (seed 003,
    // 11.2.1; found in review): unknown to the Registrar, as an association that is not waiting is.
    served: c.nodeId === undefined ? 'not-enrolled' : servedAt(node, subscriptionId === undefined ? undefined : subscription, at),
    // RS-01 (credentialBelongsToRegistree): a CSE Registree is the CSE-ID its node holds now, not the one it held at
    // configuration; a CSE-ID moved to another node is that node's (found in review: a renumbered node completed a
    // handshake under its old CSE-ID, since given to another node).
    held: registreeHeldByNode(viewOf(node.snapshot), registree),
    // Seed 003, 11.2.2 (applicationEnrolled): an AE's App-ID still enrolled (found in review: a handshake completed for
    // an App-ID the operator had revoked, the cascade not having revoked the association yet). And the credential it
    // is enrolled with stands now (applicationCredentialStands, 11.2.2): found in review 26, a handshake under an
    // App-ID whose credential had passed its notAfter ran to its finish, refused only there.
    enrolled: registreeApplicationEnrolled(application, registree),
    // Seed 003, 11.2.2 (appCredentialIsEnrolled, machines v10): a credential owned by the App-ID is of purpose
    // application and the one it is enrolled with now. Review 249's follow-up: a handshake on the credential the App-ID
    // was moved off (`--replaces`) ran to its finish, the device deriving its session key, refused only when recorded.
    appCredential: appCredentialIsEnrolled(credential, application, enrolledWith === undefined ? undefined : enrolledCredential, c.credentialId),
    stands: registreeApplicationCredentialStands(application, enrolledWith === undefined ? undefined : enrolledCredential, registree, at),
  };
};

/**
 * The credential an association configured by an operator (11.3.1) authenticates with, read from the engine on
 * every call (nothing is kept between requests): known only while the association waits for its handshake, is
 * configured with this Registrar CSE and names `registreeId` as its Registree, and that Registree may still
 * associate as the association machine will decide at establishment (its rules, machines/guards.ts).
 */
export const credentialOfAssociation = async (o: Lookups, registrarCseId: string, associationId: string, registreeId: string, fingerprint: string) => {
  const read = await readAssociation(o, associationId);
  const subscription = read.subscriptionId === undefined ? undefined : (read.subscription.snapshot.context as SubscriptionContext | undefined);
  const { view, found } = await readCredential(o, read.c.credentialId ?? NONE.credential, fingerprint, { subscription });
  const rules = rulesOf(read, view, registrarCseId, registreeId, o.engine.clock.now().getTime());
  const { waiting, forThisRegistree, served, held, enrolled, appCredential, stands } = rules;
  return waiting && forThisRegistree && served === 'served' && held && enrolled && appCredential && stands ? found : undefined;
};

/**
 * Why association `associationId` takes no handshake of `registreeId`, by its state or the first rule that refuses
 * it, or undefined when it would (or is not this Registree's, which its holder is not told more of). Only for a
 * Registree whose proof verified with the credential the association was configured with (RegistrarScope
 * `closedBecause`): never read for a hello.
 */
export const associationClosedFor = async (o: Lookups, registrarCseId: string, associationId: string, registreeId: string): Promise<AssociationClosed | undefined> => {
  const read = await readAssociation(o, associationId);
  // Past the holder's proof only: a read a hello never makes (review 64 F2 is about hellos).
  const credential = viewOf((await o.engine.peek('credential', read.c.credentialId ?? NONE.credential)).snapshot);
  const rules = rulesOf(read, credential, registrarCseId, registreeId, o.engine.clock.now().getTime());
  const { c, registree } = read;
  const ask = 'ask the operator; a handshake needs an association configured anew';
  if (!rules.forThisRegistree) return undefined;
  if (!rules.waiting) {
    return {
      reason: 'association_not_waiting',
      detail: `association ${associationId} is ${String(read.association.snapshot.value)}, where it takes no handshake: a new handshake needs a new association id`,
    };
  }
  if (rules.served === 'not-enrolled') return { reason: 'node_not_enrolled', detail: `node ${c.nodeId ?? 'none'} is not enrolled (seed 003, 11.2.1): ${ask}` };
  if (rules.served === 'subscription-ended') {
    return { reason: 'subscription_ended', detail: `the M2M service subscription ${read.subscriptionId ?? 'none'} of node ${c.nodeId} has ended (seed 003, 11.2.1): ${ask}` };
  }
  if (!rules.held) return { reason: 'cse_id_moved', detail: `node ${c.nodeId} no longer holds CSE-ID ${registree.id}: ${ask}` };
  const appId = registree.kind === 'ae' ? registree.appId : 'none';
  if (!rules.enrolled) return { reason: 'app_id_not_enrolled', detail: `App-ID ${appId} is not enrolled (seed 003, 11.2.2): ${ask}` };
  if (!rules.appCredential) {
    const { purpose } = credential.context as Partial<CredentialContext>;
    const why = purpose !== 'application'
      ? `of App-ID ${appId} has purpose ${purpose}, not application`
      : `is not the one App-ID ${appId} is enrolled with${read.enrolledWith === undefined ? '' : ` (credential ${read.enrolledWith})`}`;
    return { reason: 'app_id_not_enrolled', detail: `credential ${c.credentialId} ${why} (seed 003, 11.2.2): ${ask}` };
  }
  if (!rules.stands) {
    return { reason: 'app_id_not_enrolled', detail: `the credential App-ID ${appId} is enrolled with has ended or is outside its validity (seed 003, 11.2.2): ${ask}` };
  }
  return undefined;
};

/**
 * The credential association `associationId` was configured with for this Registree and Registrar CSE, whatever
 * the state of the association, its node or the credential: never to run a handshake with, only to check the proof
 * of a decoy run (adapters/protocols/shared/decoy.ts), so that the holder of a credential that ended is told why.
 */
export const credentialConfiguredFor = async (o: Lookups, registrarCseId: string, associationId: string, registreeId: string, fingerprint: string) => {
  const c = (await o.engine.peek('association', associationId)).snapshot.context as AssociationContext;
  // Read whether or not the association is this Registree's, as credentialOfAssociation reads (review 64 F2).
  // Never granted on (a decoy run is refused at its finish): no subscription read, none cut to.
  const found = await credentialById(o, c.credentialId ?? NONE.credential, fingerprint, { subscription: undefined });
  if (c.credentialId === undefined || c.registree?.id !== registreeId || c.registrarCseId !== registrarCseId) return undefined;
  return found;
};

/**
 * The rules of `AssociationEstablished` that bound the granted lifetime: by the credential's notAfter, its node's
 * subscription's end, and a standing rotation's overlap end (machines/association.machine.ts).
 */
const LIFETIME_RULES: ReadonlySet<string> = new Set(['lifetimeShorterThanCredential', 'endsWithinSubscription', 'endsWithinOverlap']);

/**
 * What the Registree of a finish whose proof verified is told when the engine refused to record its association
 * (`refusal`, the engine's `illegal_transition`): never that refusal, whose state, allowed events and stream id are
 * the engine's (review 345), but why, read again as the finish read it (registrar-still-usable.ts `refusalToHolder`):
 * the credential the association was configured with cannot be used now (`credential_revoked`, `credential_expired`,
 * ...: revoked between the finish's read and the record, before the cascade revoked the association); it can, and the
 * association takes no handshake (associationClosedFor: `association_not_waiting` for a twin finish recorded first,
 * review 224, ...); else the rule that refused: a grant outliving what the credential leaves now (a rotation started
 * in that window, its overlap ending before the grant: endsWithinOverlap) is `lifetime_exceeds_credential`, which a
 * new handshake is granted within; any other rule, that this credential authenticates no handshake of it.
 */
export const finishRecordRefusal = async (
  o: Lookups,
  registrarCseId: string,
  associationId: string,
  outcome: Pick<AssociationOutcome, 'registreeId' | 'credential' | 'expiresAt'>,
  refusal: CredenceError,
  step: string,
): Promise<CredenceError> => {
  const { registreeId, credential } = outcome;
  const now = o.engine.clock.now();
  try {
    assertUsableCredential(step, await credentialConfiguredFor(o, registrarCseId, associationId, registreeId, credential.fingerprint), credential, now, registreeId);
  } catch (own) {
    return realRefusal(own);
  }
  const closed = await associationClosedFor(o, registrarCseId, associationId, registreeId);
  if (closed !== undefined) return protocolFailure(step, closed.reason, closed.detail);
  const rule = refusal.problem.code === 'illegal_transition' ? refusal.problem.rule : undefined;
  const c = (await o.engine.peek('association', associationId)).snapshot.context as AssociationContext;
  const credentialId = c.credentialId ?? 'none';
  if (rule !== undefined && LIFETIME_RULES.has(rule)) {
    const { overlapEndsAt, notAfter } = (await o.engine.peek('credential', credentialId)).snapshot.context as Partial<CredentialContext>;
    const end =
      rule === 'endsWithinOverlap' && overlapEndsAt !== undefined
        ? `the rotation of credential ${credentialId} ends it at the end of its overlap, ${new Date(overlapEndsAt).toISOString()} (HLR-212)`
        : rule === 'lifetimeShorterThanCredential' && notAfter !== undefined
          ? `credential ${credentialId} ends at ${new Date(notAfter).toISOString()} (seed 003, 11.3.2)`
          : `the M2M service subscription of node ${c.nodeId ?? 'none'} ends before it (seed 003, 11.2.1)`;
    return protocolFailure(step, 'lifetime_exceeds_credential', `the lifetime granted, to ${outcome.expiresAt}, outlives what credential ${credentialId} leaves now: ${end}; a new handshake is granted within it`);
  }
  return protocolFailure(step, 'credential_mismatch', `credential ${credentialId} authenticates no handshake of association ${associationId} (rule ${rule ?? 'none'}): ask the operator`);
};
