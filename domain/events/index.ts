import { z } from 'zod';
import { applicationEvents } from './application.ts';
import { associationEvents } from './association.ts';
import { credentialEvents } from './credential.ts';
import { nodeEvents } from './node.ts';
import { pseudonymEvents } from './pseudonym.ts';
import { subscriptionEvents } from './subscription.ts';

/** Every event's data schema by type, at its current schema version. */
export const EVENT_DATA = {
  ...subscriptionEvents,
  ...nodeEvents,
  ...credentialEvents,
  ...applicationEvents,
  ...associationEvents,
  ...pseudonymEvents,
} as const;

export type EventType = keyof typeof EVENT_DATA;
export const EVENT_TYPES = Object.keys(EVENT_DATA) as EventType[];
export const EventTypeSchema = z.enum(EVENT_TYPES as [EventType, ...EventType[]]);

export type EventData<T extends EventType> = z.infer<(typeof EVENT_DATA)[T]>;

/** A domain event: a fact in the past tense, `{ type, data }`, discriminated on `type`. */
export type DomainEvent = { [T in EventType]: { readonly type: T; readonly data: EventData<T> } }[EventType];
export type EventOf<T extends EventType> = Extract<DomainEvent, { type: T }>;

/** The discriminated union as a zod schema, for parsing whole events at a boundary. */
export const DomainEventSchema = z.discriminatedUnion(
  'type',
  EVENT_TYPES.map((type) => z.object({ type: z.literal(type), data: EVENT_DATA[type] })) as unknown as [
    z.ZodObject<{ type: z.ZodLiteral<EventType>; data: z.ZodTypeAny }>,
    ...z.ZodObject<{ type: z.ZodLiteral<EventType>; data: z.ZodTypeAny }>[],
  ],
);

export const isEventType = (type: string): type is EventType => Object.hasOwn(EVENT_DATA, type);

export { RevocationReason, CRL_REASON_CODE, Owner, OwnerKind, Fingerprint, Base64Url } from './common.ts';
export { NodeProfile } from './node.ts';
export { CredentialKind, CredentialPurpose, CertificateSummary, ProvisioningReceipt, ProvisioningReceiptV1, ProvisioningReceiptV2 } from './credential.ts';
export { Registree } from './association.ts';

import type { EntityKind } from '../streams.ts';

/** Which kind of entity stream each event type belongs to. */
export const EVENT_KIND: Readonly<Record<EventType, EntityKind>> = Object.fromEntries([
  ...Object.keys(subscriptionEvents).map((t) => [t, 'subscription']),
  ...Object.keys(nodeEvents).map((t) => [t, 'node']),
  ...Object.keys(credentialEvents).map((t) => [t, 'credential']),
  ...Object.keys(applicationEvents).map((t) => [t, 'application']),
  ...Object.keys(associationEvents).map((t) => [t, 'association']),
  ...Object.keys(pseudonymEvents).map((t) => [t, 'pseudonym']),
]) as Record<EventType, EntityKind>;

/** The field of an event's data that holds the id of the entity whose stream it belongs to. */
export const ENTITY_ID_FIELD: Readonly<Record<EntityKind, string>> = {
  subscription: 'subscriptionId',
  node: 'nodeId',
  credential: 'credentialId',
  application: 'appId',
  association: 'associationId',
  pseudonym: 'pseudonym',
};

export const entityIdOf = (event: DomainEvent): string =>
  (event.data as Record<string, string>)[ENTITY_ID_FIELD[EVENT_KIND[event.type]]]!;
