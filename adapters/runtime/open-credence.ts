import { openReadModels, type ReadModelDb } from '../readmodels/index.ts';
import { createEngine, type Engine } from '../engine/index.ts';
import type { Clock } from '../clock/index.ts';
import { openSqliteStore, openSqliteStoreInDir } from '../store/index.ts';
import type { EventStore } from '../store/port.ts';
import { ProjectionRunner } from '../../projections/runtime/index.ts';
import { cascadeProcessManager, type CascadeLog } from '../../projections/cascade/index.ts';
import { expiryScheduler, type ExpiryScheduler } from '../../projections/expiry/index.ts';

export interface Credence {
  readonly store: EventStore;
  readonly engine: Engine;
  readonly readModels: ReadModelDb;
  readonly runner: ProjectionRunner;
  readonly scheduler: ExpiryScheduler;
  /** Runs every projection (cascade, expiry, ...) up to the head of the store. */
  settle(): Promise<void>;
  /** Advances the schedule: issues due expiries, then settles the cascades they cause. */
  tick(): Promise<number>;
  close(): Promise<void>;
}

export interface OpenOptions {
  readonly location: { dir: string } | { memory: true };
  readonly clock: Clock;
  readonly store?: EventStore;
  readonly cascadeLog?: CascadeLog;
}

/** Wires a store, the engine, the read models and the system projections into one running instance. */
export const openCredence = (options: OpenOptions): Credence => {
  const store =
    options.store ?? ('memory' in options.location ? openSqliteStore({ memory: true }) : openSqliteStoreInDir(options.location.dir));
  const engine = createEngine({ store, clock: options.clock });
  const readModels = openReadModels(options.location);
  const scheduler = expiryScheduler(engine);
  const runner = new ProjectionRunner({
    db: readModels,
    store,
    projections: [cascadeProcessManager(engine, options.cascadeLog), scheduler],
  });
  // A cascade can cause further cascades (node -> credentials -> associations): settle until nothing moves.
  const settle = async (): Promise<void> => {
    while ((await runner.catchUp()) > 0) {
      /* keep going */
    }
  };
  return {
    store,
    engine,
    readModels,
    runner,
    scheduler,
    settle,
    async tick() {
      await settle();
      const issued = await scheduler.tick();
      await settle();
      return issued;
    },
    async close() {
      await runner.stop();
      readModels.close();
      await store.close();
    },
  };
};
