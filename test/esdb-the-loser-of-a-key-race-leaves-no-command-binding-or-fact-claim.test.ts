import { createHash, randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { openEventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { ExpectedRevision } from '../domain/ports/index.ts';
import { startStandIn } from './esdb-standin/index.ts';
import { newEvent } from './store-conformance/helpers.ts';

/*
 * SER-010 on EventStoreDB (review 201, finding 2). An append that certifies a key another credential's append claimed
 * is refused with a conflict, and writes nothing: not its command id's binding, not a claim on the facts it read.
 * The key's claimant is read before the command and the facts are claimed, as the facts are read before.
 */
const freshKey = (): string => `sha256:${createHash('sha256').update(randomUUID()).digest('hex')}`;

describe('the loser of a race for a key, on the EventStoreDB stand-in', () => {
  const stops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const stop of stops) await stop();
  });

  it.each([
    ['with a fact read', true],
    ['with no fact', false],
  ])('leaves no command binding or fact claim behind, %s', async (_, withFact) => {
    const standIn = await startStandIn();
    stops.push(() => standIn.stop());
    const store = openEventStoreDbStore(standIn.connectionString);
    const key = freshKey();
    const node = 'node-meter-1';
    const nodeAt = await store.appendToStream(node, [newEvent('NodeRegistered')], { expectedRevision: ExpectedRevision.noStream });
    const facts = withFact ? [{ streamId: node, revision: nodeAt.nextExpectedRevision }] : undefined;
    const issue = (streamId: string, commandId: string) =>
      store.appendToStream(streamId, [newEvent('CredentialIssued', { fingerprint: key })], {
        expectedRevision: ExpectedRevision.noStream, commandId, certifiesKey: key, ...(facts === undefined ? {} : { facts }),
      });
    await issue('credential-cred-a', randomUUID());
    const head = await store.headPosition();
    const nodeRecords = (await store.readStream(node)).length;

    const loser = randomUUID();
    const refused = await issue('credential-cred-b', loser).then(() => undefined, (error: unknown) => error);
    expect(isCredenceError(refused, 'concurrency_conflict')).toBe(true);
    expect(await store.commandStream!(loser), 'no binding of the loser command id').toBeUndefined();
    expect((await store.readStream(node)).length, 'no claim on the fact').toBe(nodeRecords);
    expect(await store.headPosition(), 'nothing written').toBe(head);
    await store.close();
  }, 30_000);
});
