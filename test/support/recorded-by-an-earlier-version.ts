import { randomUUID } from 'node:crypto';
import { eventIdFor } from '../../domain/event-ids.ts';
import { ExpectedRevision, type EventStore } from '../../domain/ports/index.ts';
import { currentVersionOf } from '../../domain/upcasters.ts';

/** One event as a version before review 186's printable rule recorded it: free text then went in as sent. */
export interface EarlierEvent {
  readonly streamId: string;
  readonly type: string;
  readonly data: Record<string, unknown>;
  readonly commandType: string;
  readonly correlationId: string;
}

/**
 * Appends `event` as the first of its stream, by test-operator, as an earlier version recorded it: the CLI and the
 * service now refuse such text from a sender, but a store an earlier version wrote may hold it, and reading it back
 * must still print it safely. The caller settles the reactions it wants run.
 */
export const recordAsAnEarlierVersion = async (store: EventStore, event: EarlierEvent): Promise<void> => {
  const commandId = randomUUID();
  await store.appendToStream(event.streamId, [{
    id: eventIdFor(commandId, 0),
    type: event.type,
    data: event.data as never,
    metadata: {
      schemaVersion: currentVersionOf(event.type as never), actor: { id: 'test-operator', role: 'operator' }, commandId,
      commandType: event.commandType, correlationId: event.correlationId, causationId: commandId, occurredAt: new Date().toISOString(),
    } as never,
  }], { expectedRevision: ExpectedRevision.noStream, commandId });
};

/** A subscription `subscriptionId` created under `correlationId` by an earlier version (no reaction follows one). */
export const subscriptionOfAnEarlierVersion = (subscriptionId: string, correlationId: string): EarlierEvent => {
  const now = Date.now();
  return {
    streamId: `subscription-${subscriptionId}`,
    type: 'SubscriptionCreated',
    data: { subscriptionId, subscriber: 'City Utilities', notBefore: new Date(now).toISOString(), notAfter: new Date(now + 365 * 86_400_000).toISOString() },
    commandType: 'createSubscription',
    correlationId,
  };
};
