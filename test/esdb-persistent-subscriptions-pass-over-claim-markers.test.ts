import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FACT_CLAIM_TYPE } from '../domain/fact-claims.ts';
import { ExpectedRevision, type AllFilter, type RecordedEvent } from '../domain/ports/event-store.ts';
import { lifecycleEvent, standInStorePerTest, until } from './support/esdb-consumers.ts';


const rig = standInStorePerTest();

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
    const issued = lifecycleEvent(credential);
    const established = lifecycleEvent(association);
    await rig.store.appendToStream(credential, [issued], { expectedRevision: ExpectedRevision.noStream });
    await rig.store.appendToStream(association, [established], {
      expectedRevision: ExpectedRevision.noStream,
      commandId,
      facts: [{ streamId: credential, revision: 0n }],
    });
    const stored = await rig.store.readStream(credential);
    expect(stored.map((e) => e.type), 'the claim is in the log for the consumer to pass over').toEqual([issued.type, FACT_CLAIM_TYPE]);
    const sentinel = lifecycleEvent(credential);
    await rig.store.appendToStream(credential, [sentinel], { expectedRevision: ExpectedRevision.exact(1n) });

    // When an integrator consumer group reads $all
    const seen: RecordedEvent[] = [];
    rig.consumers.push(await rig.store.persistentSubscriptionToAll(`integrator-${randomUUID()}`, (e) => void seen.push(e), filter === undefined ? {} : { filter }));
    await until(() => seen.some((e) => e.id === sentinel.id), 'the event after the claims');

    // Then it was handed the lifecycle events and nothing else, and the markers were acked, not parked
    const expected = filter === undefined ? [issued, established, sentinel] : [issued, sentinel];
    expect(seen.map((e) => [e.streamId, e.type])).toEqual(
      expected.map((e) => [e === established ? association : credential, e.type]),
    );
    expect(seen.filter((e) => e.type === FACT_CLAIM_TYPE || e.streamId.startsWith('credence-command-'))).toEqual([]);
    const [group] = [...rig.standIn.groups.values()];
    expect([group!.retries, group!.parked]).toEqual([[], []]);
  });
});
