import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { eventsDbRangeSourceInDir } from '../adapters/driven/store/sqlite/events-db-reader.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { CheckpointFile } from '../adapters/driven/replay-checkpoint/checkpoint-file.ts';
import { replayInWorkers } from '../adapters/replay-workers/pool.ts';
import { verifyFleet } from '../adapters/replay-workers/verify-fleet.ts';
import type { JsonObject } from '../domain/ports/event-store.ts';
import { dataDirs, forge } from './replay.fixtures.ts';
import { at, cmd, issueCredentialData, T0 } from './support/fleet.ts';

/*
 * Found in review: when the workers' guesses do not settle (a long chain of entities refused because of each other),
 * the pool verifies on its own thread, and that pass read to the store's head at that moment, past the head the
 * workers had read and digested. A command served meanwhile made the saved checkpoint claim a position its digest did
 * not cover, and every later verification reported the history altered, for good.
 */
describe('the workers\' one-thread fallback', () => {
  const dataDir = dataDirs('credence-replay-fallback-');

  it('stops at the head the workers read, so a checkpoint saved meanwhile stays true', async () => {
    const dir = dataDir();
    const store = openSqliteStoreInDir(dir);
    try {
      const engine = createEngine({ store, clock: new FakeClock(T0) });
      for (const c of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode()]) await engine.execute(c);
      // Each credential's predecessor is the one before; the first's does not exist: each refused because of the last.
      for (let i = 0; i < 10; i++) {
        const data = { ...issueCredentialData(`chain-${i}`, 'meter-1', { notBefore: T0, notAfter: at(90) }), predecessorId: i === 0 ? 'ghost' : `chain-${i - 1}` };
        await forge(store, `credential-chain-${i}`, 'CredentialIssued', data as JsonObject, at(1));
        await forge(store, `credential-chain-${i}`, 'CredentialProvisioned', { credentialId: `chain-${i}`, method: 'pre-provisioning' }, at(1));
      }
      const source = eventsDbRangeSourceInDir(dir);
      expect((await replayInWorkers(store, { workers: 2, source })).rounds).toBe(9);

      const checkpoint = new CheckpointFile(dir);
      let appended: Promise<unknown> | undefined;
      const first = await verifyFleet(store, {
        checkpoint,
        workers: 2,
        source,
        // A command served while the fallback runs.
        onProgress: () => void (appended ??= engine.execute(cmd.registerNode('meter-2'))),
      });
      await appended;
      expect(first.replay.findings.length).toBeGreaterThanOrEqual(10);
      const again = await verifyFleet(store, { checkpoint });
      expect(again.altered).toBeUndefined();
      expect(again.mode).toBe('incremental');
      expect((await verifyFleet(store, { checkpoint, full: true })).altered).toBeUndefined();
    } finally {
      await store.close();
    }
  }, 60_000);
});
