import { ExpectedRevision, type EventStore } from '../../domain/ports/index.ts';
import { signCommand } from '../../domain/signing/index.ts';
import type { Engine } from '../../adapters/engine/index.ts';
import { cmd } from './fleet.ts';

/**
 * Records `subscription-sub-1` from a request signed with `secretKey` (Ed25519), and `subscription-sub-2`, whose
 * data was altered after signing (the first event's metadata and signature on other data): an audit trail checking
 * signatures must say `verified` for the first and `invalid` for the second.
 */
export const recordSignedAndAltered = async (c: { engine: Engine; store: EventStore }, secretKey: Uint8Array): Promise<void> => {
  const request = cmd.createSubscription();
  await c.engine.execute(signCommand({ ...request, metadata: { ...request.metadata, commandId: crypto.randomUUID() } }, { algorithm: 'ed25519', secretKey }));
  const [stored] = await c.store.readStream('subscription-sub-1');
  await c.store.appendToStream('subscription-sub-2', [{
    id: crypto.randomUUID(), type: 'SubscriptionCreated', data: { ...stored!.data, subscriptionId: 'sub-2' }, metadata: stored!.metadata,
  }], { expectedRevision: ExpectedRevision.noStream });
};
