import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../adapters/driven/clock/index.ts';
import { createEngine } from '../../adapters/engine/index.ts';
import { isCredenceError } from '../../domain/errors.ts';
import { ExpectedRevision, type EventStore } from '../../domain/ports/index.ts';
import { replayEntity } from '../../projections/replay/index.ts';
import { cmd, T0 } from '../support/fleet.ts';
import { expectConflict, newEvent, uniqueNames } from './helpers.ts';

/**
 * Issue 10 item 1: a decision is valid against every fact it read at the moment it commits. Asserted through the
 * port (`AppendOptions.facts`) and through the engine racing a decision against a change of one of its facts.
 */
export function describeFactConformance(store: () => EventStore): void {
  describe('decisions hold against the facts they read', () => {
    const { stream } = uniqueNames('facts');

    it('commits when every fact stream is still at the revision read', async () => {
      const fact = stream('fact');
      await store().appendToStream(fact, [newEvent('F')], { expectedRevision: ExpectedRevision.noStream });
      const result = await store().appendToStream(stream('decision'), [newEvent('D')], {
        expectedRevision: ExpectedRevision.noStream,
        facts: [{ streamId: fact, revision: 0n }, { streamId: stream('absent'), revision: undefined }],
      });
      expect(result.deduplicated).toBe(false);
      expect(await store().readStream(stream('decision'))).toHaveLength(1);
    });

    it('refuses, writing nothing, when a fact stream moved or came into being after it was read', async () => {
      const fact = stream('moved');
      await store().appendToStream(fact, [newEvent('F1')], { expectedRevision: ExpectedRevision.noStream });
      await store().appendToStream(fact, [newEvent('F2')], { expectedRevision: ExpectedRevision.exact(0n) });
      const decision = stream('refused');
      await expectConflict(
        store().appendToStream(decision, [newEvent('D')], { expectedRevision: ExpectedRevision.noStream, facts: [{ streamId: fact, revision: 0n }] }),
        fact,
      );
      const born = stream('born');
      await store().appendToStream(born, [newEvent('B')], { expectedRevision: ExpectedRevision.noStream });
      await expectConflict(
        store().appendToStream(decision, [newEvent('D')], { expectedRevision: ExpectedRevision.noStream, facts: [{ streamId: born, revision: undefined }] }),
        born,
      );
      expect(await store().readStream(decision)).toEqual([]);
    });

    it('an idempotent retry of a committed decision is deduplicated even after its facts moved', async () => {
      const fact = stream('retry-fact');
      await store().appendToStream(fact, [newEvent('F1')], { expectedRevision: ExpectedRevision.noStream });
      const decision = stream('retry');
      const options = { expectedRevision: ExpectedRevision.noStream, commandId: crypto.randomUUID(), facts: [{ streamId: fact, revision: 0n }] };
      await store().appendToStream(decision, [newEvent('D')], options);
      // `any`: a store may have claimed the fact (EventStoreDB writes a fact claim, which moves the fact's revision).
      await store().appendToStream(fact, [newEvent('F2')], { expectedRevision: ExpectedRevision.any });
      expect((await store().appendToStream(decision, [newEvent('D')], options)).deduplicated).toBe(true);
    });

    it('establishing an association races revoking its credential: replay never finds a stored refusal', async () => {
      const engine = createEngine({ store: store(), clock: new FakeClock(T0) });
      const tag = crypto.randomUUID().slice(0, 8);
      await engine.execute(cmd.createSubscription(`sub-${tag}`));
      const rounds = 8;
      const outcomes: string[] = [];
      for (let i = 0; i < rounds; i++) {
        const [node, credential, association] = [`m-${tag}-${i}`, `c-${tag}-${i}`, `a-${tag}-${i}`];
        for (const c of [
          cmd.registerNode(node),
          cmd.enrolNode(node, `sub-${tag}`),
          cmd.issueCredential(credential, node),
          cmd.provisionCredential(credential),
          cmd.configureAssociation(association, credential, node),
        ]) {
          await engine.execute(c);
        }
        const settled = await Promise.allSettled([
          engine.execute(cmd.establishAssociation(association)),
          engine.execute(cmd.revokeCredential(credential)),
        ]);
        for (const s of settled) {
          if (s.status === 'rejected' && !isCredenceError(s.reason, 'illegal_transition')) throw s.reason;
        }
        outcomes.push(settled.map((s) => s.status).join('/'));
        for (const streamId of [`association-${association}`, `credential-${credential}`]) {
          const replay = await replayEntity(store(), streamId);
          expect(replay.verdict, `${streamId} after ${outcomes.at(-1)}`).toEqual({ ok: true });
        }
      }
      // The revocation always wins (it reads no fact); an association is established only when decided first.
      expect(outcomes.every((o) => o === 'fulfilled/fulfilled' || o === 'rejected/fulfilled')).toBe(true);
    });
  });
}
