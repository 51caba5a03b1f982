import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach } from 'vitest';
import type { EventType } from '../../domain/events/index.ts';
import type { EventToAppend, JsonObject } from '../../domain/ports/event-store.ts';
import { parseStreamId } from '../../domain/streams.ts';
import { currentVersionOf } from '../../domain/upcasters.ts';
import { openEventStoreDbStore, type EventStoreDbStore, type PersistentConsumer } from '../../adapters/driven/store/eventstoredb/index.ts';
import { startStandIn, type StandIn } from '../esdb-standin/index.ts';

/** Resolves once `condition` holds; a bounded wait so a broken consumer fails with a message, not a hang. */
export async function until(condition: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !condition(); waited += 5) {
    if (waited > 10_000) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export interface ConsumerRig {
  standIn: StandIn;
  store: EventStoreDbStore;
  /** Consumers a test started: stopped after it, before the store and the stand-in. */
  readonly consumers: PersistentConsumer[];
}

/** A fresh gRPC stand-in and a store on it for each test of the file (persistent subscriptions, consumer groups). */
export const standInStorePerTest = (options?: Parameters<typeof openEventStoreDbStore>[1]): ConsumerRig => {
  const rig = { consumers: [] } as unknown as ConsumerRig;
  beforeEach(async () => {
    rig.standIn = await startStandIn();
    rig.store = openEventStoreDbStore(rig.standIn.connectionString, options);
  });
  afterEach(async () => {
    await Promise.all(rig.consumers.splice(0).map((c) => c.stop()));
    await rig.store.close();
    await rig.standIn.stop();
  });
  return rig;
};

/**
 * A lifecycle event as the engine stores it, addressed to `streamId`'s entity (a node's registration, a credential's or
 * an association's expiry; metadata and data of the current schema): what a consumer group hands over. Anything the
 * store's readers refuse is parked before the handler.
 */
export const lifecycleEvent = (streamId: string): EventToAppend => {
  const ref = parseStreamId(streamId);
  const [type, data]: [EventType, JsonObject] =
    ref?.kind === 'credential'
      ? ['CredentialExpired', { credentialId: ref.id }]
      : ref?.kind === 'association'
        ? ['AssociationExpired', { associationId: ref.id }]
        : ['NodeRegistered', { nodeId: ref?.kind === 'node' ? ref.id : `meter-${randomUUID()}`, profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-10', capabilities: [] } }];
  const commandId = randomUUID();
  return {
    id: randomUUID(),
    type,
    data,
    metadata: {
      schemaVersion: currentVersionOf(type),
      actor: { id: 'operator:test', role: 'operator' },
      commandId,
      commandType: type === 'NodeRegistered' ? 'registerNode' : type === 'CredentialExpired' ? 'expireCredential' : 'expireAssociation',
      correlationId: commandId,
      causationId: commandId,
      occurredAt: '2026-02-01T00:00:00.000Z',
    },
  };
};
