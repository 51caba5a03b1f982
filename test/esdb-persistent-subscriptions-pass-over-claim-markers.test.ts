import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FACT_CLAIM_TYPE } from '../domain/fact-claims.ts';
import { ExpectedRevision, type AllFilter, type EventToAppend, type RecordedEvent } from '../domain/ports/event-store.ts';
import { openEventStoreDbStore, type EventStoreDbStore, type PersistentConsumer } from '../adapters/driven/store/eventstoredb/index.ts';
import { startStandIn, type StandIn } from './esdb-standin/index.ts';

const event = (type: string): EventToAppend => ({ id: randomUUID(), type, data: {}, metadata: {} });

/** Resolves once `condition` holds; a bounded wait so a broken consumer fails with a message, not a hang. */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !condition(); waited += 5) {
    if (waited > 10_000) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

let standIn: StandIn;
let store: EventStoreDbStore;
const consumers: PersistentConsumer[] = [];

beforeEach(async () => {
  standIn = await startStandIn();
  store = openEventStoreDbStore(standIn.connectionString);
});
afterEach(async () => {
  await Promise.all(consumers.splice(0).map((c) => c.stop()));
  await store.close();
  await standIn.stop();
});

// docs/eventstoredb.md: fact claims and command bindings are markers every reader passes over, integrator
// consumer groups included (as the catch-up lifecycle streams do, projections/streams/paced.ts).
describe('persistent subscriptions hand integrators lifecycle events only, never claim markers', () => {
  const cases: [string, AllFilter | undefined][] = [
    ['without a filter', undefined],
    ['filtered on the credential stream prefix', { streamPrefixes: ['credential-'] }],
  ];
  it.each(cases)('%s', async (_, filter) => {
    // Given a credential, and an association decided on it under a command id: a fact claim lands on the
    // credential stream and a command binding on credence-command-<id>
    const credential = `credential-${randomUUID()}`;
    const association = `association-${randomUUID()}`;
    const commandId = randomUUID();
    const issued = event('CredentialIssued');
    const established = event('AssociationEstablished');
    await store.appendToStream(credential, [issued], { expectedRevision: ExpectedRevision.noStream });
    await store.appendToStream(association, [established], {
      expectedRevision: ExpectedRevision.noStream,
      commandId,
      facts: [{ streamId: credential, revision: 0n }],
    });
    const stored = await store.readStream(credential);
    expect(stored.map((e) => e.type), 'the claim is in the log for the consumer to pass over').toEqual(['CredentialIssued', FACT_CLAIM_TYPE]);
    const sentinel = event('CredentialRevoked');
    await store.appendToStream(credential, [sentinel], { expectedRevision: ExpectedRevision.exact(1n) });

    // When an integrator consumer group reads $all
    const seen: RecordedEvent[] = [];
    consumers.push(await store.persistentSubscriptionToAll(`integrator-${randomUUID()}`, (e) => void seen.push(e), filter === undefined ? {} : { filter }));
    await until(() => seen.some((e) => e.id === sentinel.id), 'the event after the claims');

    // Then it was handed the lifecycle events and nothing else, and the markers were acked, not parked
    const expected = filter === undefined ? [issued, established, sentinel] : [issued, sentinel];
    expect(seen.map((e) => [e.streamId, e.type])).toEqual(
      expected.map((e) => [e === established ? association : credential, e.type]),
    );
    expect(seen.filter((e) => e.type === FACT_CLAIM_TYPE || e.streamId.startsWith('credence-command-'))).toEqual([]);
    const [group] = [...standIn.groups.values()];
    expect([group!.retries, group!.parked]).toEqual([[], []]);
  });
});
