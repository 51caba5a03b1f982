import { expect } from 'vitest';
import type { CheckpointFile } from '../../adapters/driven/replay-checkpoint/checkpoint-file.ts';
import { replayInWorkers } from '../../adapters/replay-workers/pool.ts';
import { verifyFleet } from '../../adapters/replay-workers/verify-fleet.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import type { replayAll } from '../../projections/replay/index.ts';

/**
 * That a run from `checkpoint` (taken before the last events) and the worker threads (2 and 3) give the verdict one
 * pass gave (`single`): the findings and their causes are decided from the findings alone, so every mode agrees.
 */
export const expectEveryReplayModeAgrees = async (store: EventStore, checkpoint: CheckpointFile, single: Awaited<ReturnType<typeof replayAll>>): Promise<void> => {
  const incremental = await verifyFleet(store, { checkpoint });
  expect(incremental.mode).toBe('incremental');
  expect(incremental.replay).toEqual(single);
  for (const count of [2, 3]) {
    const workers = await replayInWorkers(store, { workers: count });
    // Settled in the workers, not by the one-thread pass the pool falls back to after MAX_ROUNDS (8).
    expect(workers.rounds).toBeLessThanOrEqual(8);
    expect(workers.replay).toEqual(single);
  }
};
