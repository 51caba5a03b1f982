import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import type { CommandSink } from '../domain/ports/index.ts';
import type { DecodedEvent } from '../domain/stored.ts';
import { expiryScheduler } from '../projections/expiry/index.ts';

const random = (seed: number) => () => {
  seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
  return seed / 2 ** 32;
};

/** The scheduler's `apply` reads no engine; `tick` is not called here. */
const engine = { clock: new FakeClock('2030-01-01T00:00:00.000Z') } as unknown as CommandSink;

const instant = (next: () => number): string => new Date(Date.UTC(2031, 0, 1) + Math.floor(next() * 1000) * 60_000).toISOString();

/**
 * Deadlines put, put again (a new due instant for the same purpose), dropped by a final event and put again after
 * it, on a few credential, association and subscription streams, in no order a machine would accept.
 */
const history = (next: () => number, length: number): DecodedEvent[] => {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const events: DecodedEvent[] = [];
  for (let i = 0; i < length; i++) {
    const credential = pick(['c1', 'c2', 'c3']);
    const [streamId, type, data]: [string, string, Record<string, unknown>] = pick([
      () => [`credential-${credential}`, 'CredentialIssued', { credentialId: credential, notAfter: instant(next) }],
      () => [`credential-${credential}`, 'CredentialRotationStarted', { credentialId: credential, overlapEndsAt: instant(next) }],
      () => [`credential-${credential}`, 'CredentialRotationAbandoned', { credentialId: credential, successorId: 'c9' }],
      () => [`credential-${credential}`, pick(['CredentialRevoked', 'CredentialExpired']), { credentialId: credential }],
      () => ['association-a1', 'AssociationEstablished', { associationId: 'a1', expiresAt: instant(next) }],
      () => ['association-a1', pick(['AssociationRevoked', 'AssociationExpired']), { associationId: 'a1' }],
      () => ['subscription-s1', 'SubscriptionCreated', { subscriptionId: 's1', notAfter: instant(next) }],
      () => ['subscription-s1', pick(['SubscriptionExpired', 'SubscriptionTerminated']), { subscriptionId: 's1' }],
    ] as const)() as [string, string, Record<string, unknown>];
    events.push({ record: { position: BigInt(i + 1), streamId, type }, event: { type, data } } as unknown as DecodedEvent);
  }
  return events;
};

const dump = (db: Database.Database): unknown[] => db.prepare('SELECT * FROM expiry_deadlines ORDER BY stream, purpose').all();

describe('expiry deadlines applied in batches', () => {
  it('are exactly those each event applied on its own leaves, for any history and any cut into batches', () => {
    for (let seed = 1; seed <= 100; seed++) {
      const next = random(seed);
      const events = history(next, 5 + Math.floor(next() * 80));
      const single = new Database(':memory:');
      const one = expiryScheduler(engine);
      one.setup(single);
      for (const e of events) single.transaction(() => one.apply!(single, e))();

      const batched = new Database(':memory:');
      const many = expiryScheduler(engine);
      many.setup(batched);
      for (let i = 0; i < events.length; ) {
        const size = 1 + Math.floor(next() * 40);
        batched.transaction(() => {
          const batch = many.beginBatch!(batched);
          for (const e of events.slice(i, i + size)) many.apply!(batched, e);
          batch.flush();
        })();
        i += size;
      }
      expect(dump(batched), `seed ${seed}`).toEqual(dump(single));
    }
  });
});
