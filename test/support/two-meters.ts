import { FakeClock, HOUR } from '../../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../../adapters/runtime/index.ts';
import { cmd, establishMeter, T0 } from './fleet.ts';

/**
 * A Credence in memory holding a subscription and two meters, registered an hour apart, each with its credential
 * provisioned and its association established, every projection settled; and its clock, to go on from there.
 */
export const twoEstablishedMeters = async (): Promise<{ c: Credence; clock: FakeClock }> => {
  const clock = new FakeClock(T0);
  const c = openCredence({ location: { memory: true }, clock });
  await c.engine.execute(cmd.createSubscription());
  for (const n of [1, 2]) {
    clock.advance(HOUR);
    await c.engine.execute(cmd.registerNode(`meter-${n}`));
    await establishMeter(c.engine, n);
  }
  await c.settle();
  return { c, clock };
};
