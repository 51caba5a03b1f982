import { validationError } from '../../../domain/errors.ts';
import type { CredentialPurpose } from '../../../domain/events/index.ts';
import type { CredentialContext, LoadedEntity, NodeContext, SubscriptionContext } from '../../../machines/index.ts';
import { isWithin } from '../../../machines/types.ts';
import type { Engine } from '../../engine/index.ts';

const LIVE = ['enrolled', 'associated'];
/** The purpose of the credential a remote provisioning run makes (recordProvisioningRun's callers: enrolment-endpoint.ts, procedures.ts). */
const REMOTE_PROVISIONING_PURPOSE: CredentialPurpose = 'service';

const refused = (path: string, rule: string, message: string) => validationError([{ path, rule, message }], 'provisioning run');

/**
 * An id in use, or claimed by another run in flight (credential-ids-in-flight.ts): told alike, naming no one else's
 * credential or run.
 */
export const credentialIdTaken = () => refused('credentialId', 'unused', 'not available for a new credential: choose another id');

/**
 * The id is claimed by a run of this same node that cannot be taken over now: its receipt was accepted and its
 * outcome is being recorded, or it is handling a message. Retryable: the node's own run, so naming it tells nothing
 * about anyone else's.
 */
export const credentialIdInFlight = () =>
  refused('credentialId', 'in_flight', "this node's earlier run for this id is still finishing: retry shortly with the same id");

/**
 * Whether the node may be served (provisioned, associated): enrolled, and its subscription itself active and within
 * its validity, not only the node's word for it: a terminated or expired subscription leaves its nodes enrolled until
 * the cascade records their enrolment's end, which a lagging runtime delays (found in review).
 */
export const servedUnderSubscription = async (engine: Engine, nodeId: string): Promise<Served> => {
  const node = await engine.entity('node', nodeId);
  if (!LIVE.includes(String(node.snapshot.value))) return 'not-enrolled';
  const subscriptionId = (node.snapshot.context as NodeContext).subscriptionId;
  const subscription = subscriptionId === undefined ? undefined : await engine.entity('subscription', subscriptionId);
  return servedAt(node, subscription, engine.clock.now().getTime());
};

/** Whether a node may be served, and if not why (`servedUnderSubscription`). */
export type Served = 'served' | 'not-enrolled' | 'subscription-ended';

/**
 * The rule of `servedUnderSubscription` on the node and the subscription it names (none: `undefined`), at `at`. Apart
 * from the reads so that an association hello can read alike whatever it finds (registrar-credentials.ts).
 */
export const servedAt = (node: Pick<LoadedEntity, 'snapshot'>, subscription: Pick<LoadedEntity, 'snapshot'> | undefined, at: number): Served => {
  if (!LIVE.includes(String(node.snapshot.value))) return 'not-enrolled';
  const validity = subscription?.snapshot.context as SubscriptionContext | undefined;
  const active = subscription !== undefined && String(subscription.snapshot.value) === 'active' && validity !== undefined && isWithin(at, validity);
  return active ? 'served' : 'subscription-ended';
};

/**
 * The infrastructure's own refusals of a remote provisioning run that could never be recorded: the node is not
 * enrolled, the credential id is taken, or the predecessor a successor names (HLR-212) is not a live service credential
 * of the same node. Asked once the node has authenticated and before any key is made for the run
 * (`EnrolmentFunctionOptions.admitAuthenticatedRun`), never for a hello: an unauthenticated sender neither learns from
 * them which ids exist nor costs a read for them. The messages say what the node can act on and nothing about anyone
 * else's credentials (whose the id is, or why the predecessor does not qualify). The engine's guards
 * (`predecessorIsLive`, `successorKeepsPurpose`) still decide at the receipt.
 */
export const admitProvisioningRun = async (
  engine: Engine,
  run: { readonly nodeId: string; readonly credentialId?: string | undefined; readonly predecessorId?: string | undefined },
): Promise<void> => {
  // Seed 003, 11.2.1: "M2M service provisioning assumes the existence of an M2M service subscription". A node the
  // operator registered but has not enrolled under one is told so once it has authenticated: it may know its own
  // state (found in review: a registered node provisioned itself a service credential before any subscription).
  const served = await servedUnderSubscription(engine, run.nodeId);
  if (served === 'not-enrolled') {
    throw refused('nodeId', 'enrolled', 'the node is not enrolled under an M2M service subscription: the operator enrols it first (seed 003, 11.2.1)');
  }
  if (served === 'subscription-ended') {
    throw refused('nodeId', 'enrolled', 'the node is not enrolled under an active M2M service subscription: the operator enrols it under one first (seed 003, 11.2.1)');
  }
  if (run.credentialId !== undefined && (await engine.entity('credential', run.credentialId)).events.length > 0) throw credentialIdTaken();
  if (run.predecessorId === undefined) return;
  const predecessor = await engine.entity('credential', run.predecessorId);
  const owner = (predecessor.snapshot.context as CredentialContext).owner;
  if (!LIVE.includes(String(predecessor.snapshot.value)) || owner?.kind !== 'node' || owner.id !== run.nodeId) {
    throw refused('predecessorId', 'live-credential-of-node', 'not a live credential of this node');
  }
  // Review 238: a successor keeps its predecessor's purpose (HLR-212; the engine's successorKeepsPurpose decides again
  // at the receipt). Named here, the node's bootstrap credential would be rotated onto the service credential and
  // revoked as superseded at the end of the overlap, and the node never provisioned remotely again. The node's own
  // credential, found live above: its purpose tells it nothing about anyone else's.
  if ((predecessor.snapshot.context as CredentialContext).purpose !== REMOTE_PROVISIONING_PURPOSE) {
    throw refused(
      'predecessorId',
      'same-purpose',
      `not a ${REMOTE_PROVISIONING_PURPOSE} credential: remote provisioning makes a ${REMOTE_PROVISIONING_PURPOSE} credential, and a successor keeps its predecessor's purpose (HLR-212); name a ${REMOTE_PROVISIONING_PURPOSE} credential of this node, or no predecessor`,
    );
  }
};
