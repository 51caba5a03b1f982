import { afterEach, beforeEach } from 'vitest';
import { openEventStoreDbStore, type EventStoreDbStore, type PersistentConsumer } from '../../adapters/driven/store/eventstoredb/index.ts';
import { startStandIn, type StandIn } from '../esdb-standin/index.ts';

/** Resolves once `condition` holds; a bounded wait so a broken consumer fails with a message, not a hang. */
export async function until(condition: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !condition(); waited += 5) {
    if (waited > 10_000) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export interface ConsumerRig {
  standIn: StandIn;
  store: EventStoreDbStore;
  /** Consumers a test started: stopped after it, before the store and the stand-in. */
  readonly consumers: PersistentConsumer[];
}

/** A fresh gRPC stand-in and a store on it for each test of the file (persistent subscriptions, consumer groups). */
export const standInStorePerTest = (options?: Parameters<typeof openEventStoreDbStore>[1]): ConsumerRig => {
  const rig = { consumers: [] } as unknown as ConsumerRig;
  beforeEach(async () => {
    rig.standIn = await startStandIn();
    rig.store = openEventStoreDbStore(rig.standIn.connectionString, options);
  });
  afterEach(async () => {
    await Promise.all(rig.consumers.splice(0).map((c) => c.stop()));
    await rig.store.close();
    await rig.standIn.stop();
  });
  return rig;
};
