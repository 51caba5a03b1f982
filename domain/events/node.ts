import { z } from 'zod';
import { AssociationId, CredentialId, CseId, M2MSubId, NodeId } from '../ids.ts';
import { RevocationReason } from './common.ts';

/**
 * Generic profile of the node established at Initialization (seed 004, access control): what the device is and
 * what it can do, so later authorization can rely on it.
 */
export const NodeProfile = z.object({
  class: z.string().min(1).max(64),
  manufacturer: z.string().min(1).max(128),
  model: z.string().min(1).max(128),
  capabilities: z.array(z.string().min(1).max(64)).max(64),
});
export type NodeProfile = z.infer<typeof NodeProfile>;

/** Initialization at the factory (seed 004): canonical Node-ID, generic profile, bootstrap credential linked to both. */
export const NodeRegistered = z.object({
  nodeId: NodeId,
  profile: NodeProfile,
  bootstrapCredentialId: CredentialId.optional(),
});
/** Enrolment under an M2M Service Subscription (seed 003, 11.2.1), with the CSE-ID provided by provisioning. */
export const NodeEnrolled = z.object({ nodeId: NodeId, subscriptionId: M2MSubId, cseId: CseId });
export const NodeAssociated = z.object({ nodeId: NodeId, associationId: AssociationId });
export const NodeAssociationReleased = z.object({ nodeId: NodeId, associationId: AssociationId });
export const NodeEnrolmentExpired = z.object({ nodeId: NodeId, subscriptionId: M2MSubId });
export const NodeRevoked = z.object({ nodeId: NodeId, reason: RevocationReason });

export const nodeEvents = {
  NodeRegistered,
  NodeEnrolled,
  NodeAssociated,
  NodeAssociationReleased,
  NodeEnrolmentExpired,
  NodeRevoked,
} as const;
