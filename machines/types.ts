import type { DomainEvent } from '../domain/events/index.ts';
import type { EntityKind, EntityView } from '../domain/streams.ts';

export type { EntityView };

/** Names of the cross-entity facts a guard may need. Absent key = not needed; `undefined` value = entity does not exist. */
export type FactName =
  | 'subscription'
  | 'node'
  | 'credential'
  | 'application'
  | 'owner'
  | 'bootstrap'
  | 'predecessor'
  | 'successor'
  /** The successor a credential's earlier rotation named, when it is rotated again (credential.machine.ts). */
  | 'previousSuccessor'
  /** Where a successor superseded in turn handed over to, down its chain (the end of a rotation's overlap, HLR-212). */
  | 'handover'
  /** The credential an AE Registree's App-ID is enrolled with, named by the App-ID (association.machine.ts). */
  | 'applicationCredential'
  /** The credential an enrolled App-ID moves its authorisation from (application.machine.ts). */
  | 'currentCredential'
  /** The subscription an enrolled node moves off, named by the node (node.machine.ts, review 234). */
  | 'currentSubscription'
  /** The association a bookkeeping event (NodeAssociated, CredentialAssociated, an App-ID's instance, their releases) names (review 234). */
  | 'association'
  /**
   * Another credential issued on the key a new credential carries (SER-010, keyNeverCertified): named by an index of
   * certified keys (the store's, or replay's as of the event's position), not by the event; present only when one is.
   */
  | 'keyHolder';
export type Facts = Partial<Record<FactName, EntityView | undefined>>;

/**
 * What a machine consumes: a domain event plus the instant it occurred and the cross-entity facts at that instant.
 * The same shape serves decisions (facts read at decision time) and replay (facts as of the event's position).
 */
export type MachineEvent = DomainEvent & {
  readonly at: number;
  readonly facts: Facts;
  /**
   * Set only when rebuilding an entity from events the store already accepted (the engine's own reads): guards
   * over other entities are skipped, guards over the entity itself still run. Decisions and auditor replay never
   * set it; they supply the facts and every guard runs.
   */
  readonly trusted?: true;
};

export interface Validity {
  readonly notBefore: number;
  readonly notAfter: number;
}

/** Where each fact comes from: the kind and id of the other entity. */
export type FactSources = Partial<Record<FactName, { readonly kind: EntityKind; readonly id: string }>>;

export const isWithin = (at: number, v: Validity): boolean => at >= v.notBefore && at < v.notAfter;
