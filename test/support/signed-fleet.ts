import { ExpectedRevision, type EventStore } from '../../domain/ports/index.ts';
import { signCommand } from '../../domain/signing/index.ts';
import type { Engine } from '../../adapters/engine/index.ts';
import { cmd } from './fleet.ts';

/** The audience of the test deployments' request-signing policies. */
export const AUDIENCE = 'credence:test';

/**
 * Records `subscription-sub-1` from a request signed with `secretKey` (Ed25519) for `audience`, issued at the
 * engine clock's now, and `subscription-sub-2`, whose data was altered after signing (the first event's metadata
 * and signature on other data): an audit trail checking signatures must say `verified` for the first and
 * `invalid` for the second.
 */
export const recordSignedAndAltered = async (c: { engine: Engine; store: EventStore }, secretKey: Uint8Array, audience = AUDIENCE): Promise<void> => {
  const request = cmd.createSubscription();
  const withId = { ...request, metadata: { ...request.metadata, commandId: crypto.randomUUID() } };
  await c.engine.execute(signCommand(withId, { algorithm: 'ed25519', secretKey }, { audience, issuedAt: c.engine.clock.now(), lifetimeSeconds: 300 }));
  const [stored] = await c.store.readStream('subscription-sub-1');
  await c.store.appendToStream('subscription-sub-2', [{
    id: crypto.randomUUID(), type: 'SubscriptionCreated', data: { ...stored!.data, subscriptionId: 'sub-2' }, metadata: stored!.metadata,
  }], { expectedRevision: ExpectedRevision.noStream });
};
