import type Database from 'better-sqlite3';
import { expect } from 'vitest';
import { createEngine, type Engine } from '../../adapters/engine/index.ts';
import type { Clock, EventStore } from '../../domain/ports/index.ts';
import { cascadeProcessManager } from '../../projections/cascade/index.ts';
import { ProjectionRunner } from '../../projections/runtime/index.ts';

/**
 * A catch-up of the cascade on read models `db` whose process dies once it has appended to `stream` (the append
 * stored, the batch's read models and checkpoint never committed), then the catch-up resumed on `engine`, as a
 * restarted process would: the cascade's commands go through an engine on `store` with `clock`.
 */
export const cascadeCatchUpKilledAfterAppendingTo = async (
  stream: string,
  { db, store, clock, engine }: { db: Database.Database; store: EventStore; clock: Clock; engine: Engine },
): Promise<void> => {
  let killed = false;
  const dying = Object.assign(Object.create(store) as EventStore, {
    appendToStream: async (...args: Parameters<EventStore['appendToStream']>) => {
      const appended = await store.appendToStream(...args);
      if (!killed && args[0] === stream) {
        killed = true;
        throw new Error('killed');
      }
      return appended;
    },
  });
  await expect(new ProjectionRunner({ db, store, projections: [cascadeProcessManager(createEngine({ store: dying, clock }))] }).catchUp()).rejects.toThrow('killed');
  expect(killed).toBe(true);
  await new ProjectionRunner({ db, store, projections: [cascadeProcessManager(engine)] }).catchUp();
};
