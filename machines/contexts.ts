import type { NodeProfile, Owner, Registree, RevocationReason } from '../domain/events/index.ts';
import type { CredentialKind, CredentialPurpose } from '../domain/events/credential.ts';

/** Contexts are the facts a machine keeps from the events it accepted; guards read them. Times in epoch ms. */

export interface SubscriptionContext {
  readonly subscriptionId: string;
  readonly subscriber: string;
  readonly notBefore: number;
  readonly notAfter: number;
}

export interface NodeContext {
  readonly nodeId: string;
  readonly profile?: NodeProfile;
  readonly bootstrapCredentialId?: string;
  readonly subscriptionId?: string;
  readonly cseId?: string;
  readonly liveAssociations: readonly string[];
  readonly revocationReason?: RevocationReason;
}

export interface CredentialContext {
  readonly credentialId: string;
  readonly kind?: CredentialKind;
  readonly purpose?: CredentialPurpose;
  readonly owner?: Owner;
  readonly fingerprint?: string;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly predecessorId?: string;
  readonly successorId?: string;
  readonly overlapEndsAt?: number;
  /**
   * When it was put into its node (`CredentialProvisioned`) and when it ended (expired or revoked): a rotation's end
   * asks whether its node held it at the end of the overlap, a past instant (HLR-212, heldAt; review 31).
   */
  readonly provisionedAt?: number;
  readonly endedAt?: number;
  readonly liveAssociations: readonly string[];
  readonly revocationReason?: RevocationReason;
}

export interface ApplicationContext {
  readonly appId: string;
  readonly credentialId?: string;
  readonly liveInstances: readonly { readonly associationId: string; readonly aeId: string }[];
  readonly revocationReason?: string;
}

export interface AssociationContext {
  readonly associationId: string;
  readonly nodeId?: string;
  readonly registree?: Registree;
  readonly registrarCseId?: string;
  readonly credentialId?: string;
  readonly establishedAt?: number;
  readonly expiresAt?: number;
  readonly revocationReason?: RevocationReason;
}
