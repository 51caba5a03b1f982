import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openEventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { ExpectedRevision } from '../domain/ports/index.ts';
import { startStandIn } from './esdb-standin/index.ts';
import { at, cmd, placeholderKey } from './support/fleet.ts';

/*
 * Review 204, finding 3. In a cluster shared with another application, an event of that application's named
 * CredentialIssued, carrying a string shaped as a fingerprint, is not Credence's issue of a key: the key claims pass
 * and keyIssuers count only Credence's credential streams, so the key stays free for its first real issue.
 */
const key = placeholderKey('a key another application happened to name');

describe("another application's CredentialIssued on EventStoreDB", () => {
  const stops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const stop of stops) await stop();
  });

  it('does not block the key: its first issue by Credence is accepted and the only issuer', async () => {
    const standIn = await startStandIn();
    stops.push(() => standIn.stop());
    const store = openEventStoreDbStore(standIn.connectionString);
    stops.push(() => store.close());
    // Given another application's event of that name, in a stream of its own.
    await store.appendToStream('billing-ledger', [{ id: randomUUID(), type: 'CredentialIssued', data: { fingerprint: key.fingerprint }, metadata: {} }], {
      expectedRevision: ExpectedRevision.noStream,
    });
    const engine = createEngine({ store, clock: new FakeClock(at(0)) });
    for (const c of [cmd.createSubscription(), cmd.registerNode('meter-1'), cmd.enrolNode('meter-1')]) await engine.execute(c);

    // When Credence issues the key, Then it is accepted and claimed for its credential.
    await engine.execute(cmd.issueCredential('cred-a', 'meter-1', at(90), key));
    expect(await store.readStream('credential-cred-a')).toHaveLength(1);
    expect(await store.keyCertifiedBy!(key.fingerprint)).toBe('credential-cred-a');
    expect(await store.keyIssuers!(key.fingerprint)).toEqual(['credential-cred-a']);
  }, 60_000);
});
