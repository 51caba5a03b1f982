import type { FakeClock } from '../../adapters/driven/clock/index.ts';
import { nodePseudonym } from '../../projections/pseudonyms/index.ts';
import { cmd } from './fleet.ts';
import { startTestService, type TestService } from './service.ts';

/** The actor of the service's own pseudonym rotations, as the compliance actions name it. */
export const ROTATIONS = 'system:pseudonym-rotation';

/** Waits until `check` holds, the live ticks running meanwhile; throws after `ms`. */
const eventually = async (check: () => boolean, ms = 30_000): Promise<void> => {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('never came about');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

/** Waits until each of `meters` has its pseudonym of `epoch` in `svc`'s directory. */
export const untilMetersAtEpoch = (svc: TestService, meters: readonly string[], epoch: number): Promise<void> =>
  eventually(() => meters.every((m) => nodePseudonym(svc.service.context.credence.readModels, m)?.epoch === epoch));

/**
 * A service on `clock` whose smart meters' pseudonyms rotate every hour, with `meters` registered and each given its
 * initial pseudonym (epoch 0); the service closed if that fails.
 */
export const serviceWithMetersRotatingHourly = async (clock: FakeClock, meters: readonly string[]): Promise<TestService> => {
  const svc = await startTestService({ clock, config: { pseudonyms: { classes: { 'smart-meter': { everyMs: 3_600_000 } } } } });
  try {
    for (const meter of meters) await svc.service.context.credence.engine.execute(cmd.registerNode(meter));
    await untilMetersAtEpoch(svc, meters, 0);
    return svc;
  } catch (error) {
    await svc.close();
    throw error;
  }
};
