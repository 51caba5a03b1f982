import { createHash, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { openEventStoreDbStore, type EventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { factClaimOf } from '../domain/fact-claims.ts';
import { ExpectedRevision, type FactRead } from '../domain/ports/index.ts';
import { standInTeardown } from './support/stand-in-teardown.ts';
import { newEvent } from './store-conformance/helpers.ts';

/*
 * Review 216 finding 2 (SER-010 on EventStoreDB). Two engines issuing one key at the same moment both found it free,
 * bound their command ids and claimed their facts, and only then claimed the key: the loser left its command id bound
 * to its stream and a claim on the node it read. The key is now claimed before the command id is bound and any fact
 * claimed, so the loser writes nothing, and a retry of its command id is refused by the key again, writing nothing.
 */
const freshKey = (): string => `sha256:${createHash('sha256').update(randomUUID()).digest('hex')}`;
const ROUNDS = 20;

const { startStandIn, hold } = standInTeardown();

const issue = (store: EventStoreDbStore, streamId: string, commandId: string, key: string, facts: readonly FactRead[] | undefined) =>
  store.appendToStream(streamId, [newEvent('CredentialIssued', { fingerprint: key })], {
    expectedRevision: ExpectedRevision.noStream, commandId, certifiesKey: key, ...(facts === undefined ? {} : { facts }),
  });

describe('two stores issuing one key at the same moment, on the EventStoreDB stand-in', () => {
  it.each([
    ['with a fact read', true],
    ['with no fact', false],
  ])('one wins; the loser binds no command id, claims no fact, and a retry of its command id writes nothing (%s)', async (_, withFact) => {
    const standIn = await startStandIn();
    const a = hold(openEventStoreDbStore(standIn.connectionString));
    const b = hold(openEventStoreDbStore(standIn.connectionString));
    for (let round = 0; round < ROUNDS; round += 1) {
      const key = freshKey();
      const node = `node-race-${round}`;
      const nodeAt = await a.appendToStream(node, [newEvent('NodeRegistered')], { expectedRevision: ExpectedRevision.noStream });
      const facts = withFact ? [{ streamId: node, revision: nodeAt.nextExpectedRevision }] : undefined;
      const contenders = [
        { store: a, streamId: `credential-a${round}`, commandId: randomUUID() },
        { store: b, streamId: `credential-b${round}`, commandId: randomUUID() },
      ];
      const outcomes = await Promise.allSettled(contenders.map((c) => issue(c.store, c.streamId, c.commandId, key, facts)));

      const won = outcomes.findIndex((o) => o.status === 'fulfilled');
      expect(won, `round ${round}: one wins`).toBeGreaterThanOrEqual(0);
      const lost = outcomes.findIndex((o) => o.status === 'rejected');
      expect(lost, `round ${round}: one loses`).toBe(1 - won);
      const refusal = (outcomes[lost] as PromiseRejectedResult).reason;
      expect(isCredenceError(refusal, 'concurrency_conflict'), `round ${round}: ${String(refusal)}`).toBe(true);
      const winner = contenders[won]!;
      const loser = contenders[lost]!;
      const claimants = (await a.readStream(node)).flatMap((r) => factClaimOf(r)?.claimant ?? []);
      expect(await a.keyCertifiedBy(key), `round ${round}: the key's claimant`).toBe(winner.streamId);
      expect(await a.commandStream(loser.commandId), `round ${round}: no binding of the loser's command id`).toBeUndefined();
      expect(claimants, `round ${round}: the node's claims`).toEqual(withFact ? [winner.streamId] : []);
      expect(standIn.log.stream(loser.streamId) ?? [], `round ${round}: nothing on the loser's stream`).toEqual([]);

      // The loser's retry with the same command id: refused by the key again, nothing written.
      const head = await a.headPosition();
      const retried = await issue(loser.store, loser.streamId, loser.commandId, key, facts).then(() => undefined, (error: unknown) => error);
      expect(isCredenceError(retried, 'concurrency_conflict'), `round ${round}: retry ${String(retried)}`).toBe(true);
      expect(await a.headPosition(), `round ${round}: the retry wrote nothing`).toBe(head);
      expect(await a.commandStream(loser.commandId)).toBeUndefined();
    }
  }, 60_000);
});
