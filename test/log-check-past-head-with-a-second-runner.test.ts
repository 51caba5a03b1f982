import { describe, expect, it } from 'vitest';
import type { EventStore } from '../domain/ports/index.ts';
import { ProjectionRunner, type Projection } from '../projections/runtime/index.ts';
import { cmd } from './support/fleet.ts';
import { withStoreAndReadModels } from './support/restored-folder.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * A store without `recordAt` (EventStoreDB) is checked against its head only. Two runners share one read-model file
 * (the service and `credence query`, which runs a catch-up without the data-folder lock): while one checks, the other
 * moves the checkpoints forward. A checkpoint of this log must never be found past the head: no read model of this
 * log is wiped.
 */

const folder = temporaryFolders('credence-log-check-race-');

const registered = (name: string, resets: string[]): Projection => ({
  name,
  eventTypes: ['NodeRegistered'],
  setup: () => {},
  reset: () => void resets.push(name),
  apply: () => {},
});

describe('the log check against the head, with a second runner on the read models', () => {
  it('finds no read model of another log while the other runner moves the checkpoints forward', async () => {
    await withStoreAndReadModels(folder(), async ({ store, db, engine }) => {
      await engine.execute(cmd.createSubscription());
      await engine.execute(cmd.registerNode('meter-0'));
      const resets: string[] = [];
      const projections = [registered('a', resets), registered('b', resets)];
      const service = new ProjectionRunner({ db, store, projections });
      await service.catchUp();

      let moved = false;
      // EventStoreDB-like: no recordAt; while its head is read, the service projects a node registered meanwhile.
      const esdbLike: EventStore = Object.assign(Object.create(store) as EventStore, {
        recordAt: undefined,
        headPosition: async () => {
          const head = await store.headPosition();
          if (!moved) {
            moved = true;
            await engine.execute(cmd.registerNode('meter-1'));
            await service.catchUp();
          }
          return head;
        },
      });
      const cli = new ProjectionRunner({ db, store: esdbLike, projections });
      expect(await cli.checkLog()).toEqual([]);
      expect(resets).toEqual([]);
    });
  });
});
