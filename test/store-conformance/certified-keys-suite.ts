import { createHash, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ExpectedRevision, type EventStore } from '../../domain/ports/index.ts';
import { expectConflict, newEvent, uniqueNames } from './helpers.ts';

/** A key fingerprint no other test uses (`sha256:<64 hex>`). */
const freshKey = (): string => `sha256:${createHash('sha256').update(randomUUID()).digest('hex')}`;

/**
 * SER-010: a key is certified by one stream only, ever (`AppendOptions.certifiesKey`, `EventStore.keyCertifiedBy`),
 * held inside the append as the facts are: asserted through the port, alike on every store.
 */
export function describeCertifiedKeyConformance(store: () => EventStore): void {
  describe('a key is certified by one stream only', () => {
    const { stream } = uniqueNames('keys');
    const issued = (fingerprint: string) => newEvent('CredentialIssued', { fingerprint });

    it('binds the key to the stream whose append certified it, and says so', async () => {
      const key = freshKey();
      expect(await store().keyCertifiedBy!(key)).toBeUndefined();
      await store().appendToStream(stream('first'), [issued(key)], { expectedRevision: ExpectedRevision.noStream, certifiesKey: key });
      expect(await store().keyCertifiedBy!(key)).toBe(stream('first'));
    });

    it('refuses, writing nothing, an append of another stream that certifies it, even once that stream moved on', async () => {
      const key = freshKey();
      const holder = stream('holder');
      await store().appendToStream(holder, [issued(key)], { expectedRevision: ExpectedRevision.noStream, certifiesKey: key });
      await store().appendToStream(holder, [newEvent('CredentialRevoked')], { expectedRevision: ExpectedRevision.exact(0n) });
      const head = await store().headPosition();
      await expectConflict(
        store().appendToStream(stream('clone'), [issued(key)], { expectedRevision: ExpectedRevision.noStream, certifiesKey: key }),
        stream('clone'),
      );
      expect(await store().readStream(stream('clone'))).toHaveLength(0);
      expect(await store().headPosition()).toBe(head);
      expect(await store().keyCertifiedBy!(key)).toBe(holder);
    });

    it('lets only one of two concurrent appends that certify one key commit', async () => {
      const key = freshKey();
      const outcomes = await Promise.allSettled(
        ['one', 'two'].map((name) => store().appendToStream(stream(`race-${name}`), [issued(key)], { expectedRevision: ExpectedRevision.noStream, certifiesKey: key })),
      );
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      const holder = await store().keyCertifiedBy!(key);
      expect([stream('race-one'), stream('race-two')]).toContain(holder);
    });

    it('lists every stream that issued the key, in log order, each once, those appended without certifying it too', async () => {
      const key = freshKey();
      // Credential streams: a store shared with other applications counts only Credence's issues (review 204).
      const credential = (name: string): string => `credential-${stream(name)}`;
      expect(await store().keyIssuers!(key)).toEqual([]);
      // As a version before the rule appended them: no key certified at the append.
      await store().appendToStream(credential('older'), [issued(key)], { expectedRevision: ExpectedRevision.noStream });
      await store().appendToStream(credential('other'), [issued(freshKey())], { expectedRevision: ExpectedRevision.noStream });
      await store().appendToStream(credential('newer'), [issued(key)], { expectedRevision: ExpectedRevision.noStream });
      await store().appendToStream(credential('older'), [issued(key)], { expectedRevision: ExpectedRevision.exact(0n) });
      expect(await store().keyIssuers!(key)).toEqual([credential('older'), credential('newer')]);
      await expect(store().keyIssuers!('sha256:00')).rejects.toThrow(/fingerprint/);
    });

    it('refuses a certifiesKey that is no key fingerprint, naming it, before anything is written', async () => {
      await expect(
        store().appendToStream(stream('bad'), [issued('sha256:00')], { expectedRevision: ExpectedRevision.noStream, certifiesKey: 'sha256:00' }),
      ).rejects.toThrow(/options\.certifiesKey/);
      expect(await store().readStream(stream('bad'))).toHaveLength(0);
    });
  });
}
