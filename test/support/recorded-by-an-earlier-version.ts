import { randomUUID } from 'node:crypto';
import { decide, parseCommand, targetOf } from '../../domain/commands/index.ts';
import { eventIdFor } from '../../domain/event-ids.ts';
import type { Actor } from '../../domain/metadata.ts';
import { ExpectedRevision, type EventStore } from '../../domain/ports/index.ts';
import { streamIdOf } from '../../domain/streams.ts';
import { currentVersionOf } from '../../domain/upcasters.ts';
import { T0 } from './fleet.ts';

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

/** A command as a client sent it: its id and signature (if any) as they came. */
export interface SentCommand {
  readonly type: string;
  readonly data: unknown;
  readonly metadata: { readonly actor: Actor; readonly commandId?: string; readonly signature?: unknown };
}

/**
 * The command recorded as a version before review 78 recorded it: its events (as the engine decides them) under the
 * command id exactly as sent, in the store's key, each event's metadata and each event id (eventIdFor(id, index)),
 * occurred at T0, after whatever its stream holds. Answers the stream.
 */
export const commandRecordedByAnEarlierVersion = async (store: EventStore, sent: SentCommand): Promise<string> => {
  // Parsed only to decide its events (type and data): its id and signature are taken as sent.
  const parsed = parseCommand({ type: sent.type, data: sent.data, metadata: { actor: sent.metadata.actor, commandId: randomUUID() } });
  const { kind, id } = targetOf(parsed);
  const streamId = streamIdOf(kind, id);
  const { commandId, actor, signature } = sent.metadata;
  if (commandId === undefined) throw new Error('the command must carry its id');
  const events = decide(parsed).map((event, index) => ({
    id: eventIdFor(commandId, index),
    type: event.type,
    data: event.data as never,
    metadata: {
      schemaVersion: currentVersionOf(event.type),
      actor,
      commandId,
      commandType: sent.type,
      correlationId: commandId,
      causationId: commandId,
      occurredAt: T0,
      ...(signature !== undefined ? { signature } : {}),
    } as never,
  }));
  const [last] = (await store.readStream(streamId)).slice(-1);
  await store.appendToStream(streamId, events, { expectedRevision: ExpectedRevision.after(last?.revision), commandId });
  return streamId;
};
