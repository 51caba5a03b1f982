import { createHash, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { openEventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { ExpectedRevision } from '../domain/ports/index.ts';
import { standInTeardown } from './support/stand-in-teardown.ts';
import { newEvent } from './store-conformance/helpers.ts';

/*
 * Review 216 finding 2: a key is claimed before the command id is bound, so that the loser of a race for it binds
 * nothing. An id bound to another stream already (a client reusing it) is answered as before, a repeat of the first
 * append with nothing written, and claims no key for a credential that never issued it: the binding is read first.
 */
const freshKey = (): string => `sha256:${createHash('sha256').update(randomUUID()).digest('hex')}`;

const { startStandIn, hold } = standInTeardown();

describe('an issue under a command id bound to another stream, on the EventStoreDB stand-in', () => {
  it.each([
    ['with a fact read', true],
    ['with no fact', false],
  ])('is answered as a repeat and leaves the key unclaimed (%s)', async (_, withFact) => {
    const standIn = await startStandIn();
    const store = hold(openEventStoreDbStore(standIn.connectionString));
    const commandId = randomUUID();
    const first = await store.appendToStream('node-first', [newEvent('NodeRegistered')], { expectedRevision: ExpectedRevision.noStream, commandId });
    const nodeAt = await store.appendToStream('node-fact', [newEvent('NodeRegistered')], { expectedRevision: ExpectedRevision.noStream });
    const key = freshKey();
    // The pass that fills in the claims of keys certified before claims existed writes its record once (key-claims.ts).
    expect(await store.keyCertifiedBy(key)).toBeUndefined();
    const head = await store.headPosition();

    const reused = await store.appendToStream('credential-reused', [newEvent('CredentialIssued', { fingerprint: key })], {
      expectedRevision: ExpectedRevision.noStream, commandId, certifiesKey: key,
      ...(withFact ? { facts: [{ streamId: 'node-fact', revision: nodeAt.nextExpectedRevision }] } : {}),
    });
    expect(reused).toEqual({ ...first, deduplicated: true });
    expect(await store.keyCertifiedBy(key), 'no claim of the key').toBeUndefined();
    expect(standIn.log.stream(`credence-key-${key}`), 'no claim stream').toBeUndefined();
    expect(await store.headPosition(), 'nothing written').toBe(head);
  }, 30_000);
});
