import { FakeClock } from '../../adapters/driven/clock/index.ts';
import { openEventStoreDbStore } from '../../adapters/driven/store/eventstoredb/index.ts';
import { createEngine } from '../../adapters/engine/index.ts';
import { startStandIn } from '../esdb-standin/index.ts';
import { cmd, T0 } from './fleet.ts';

/**
 * A stand-in (its stop pushed on `stops`) whose log holds a subscription with meter-1 and meter-2 enrolled, and the
 * EventStoreDB store that wrote them, still open: where a test then appends what an earlier engine would have.
 */
export const twoEnrolledMetersOnAStandIn = async (stops: (() => Promise<void>)[]) => {
  const standIn = await startStandIn();
  stops.push(() => standIn.stop());
  const store = openEventStoreDbStore(standIn.connectionString);
  const setup = createEngine({ store, clock: new FakeClock(T0) });
  for (const c of [cmd.createSubscription(), cmd.registerNode('meter-1'), cmd.registerNode('meter-2'), cmd.enrolNode('meter-1'), cmd.enrolNode('meter-2')]) {
    await setup.execute(c);
  }
  return { standIn, store };
};
