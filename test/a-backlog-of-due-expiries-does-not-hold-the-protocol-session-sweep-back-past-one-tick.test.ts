/**
 * Review 163 (F3): each live tick ran the expiry scheduler, then pseudonym rotation, then the protocol-session sweep,
 * then the shredder's retries, in sequence. A page of due expiries (up to 1,000 commands, one at a time: some 10 s on
 * EventStoreDB) held the rest back: protocol runs past their timeout did not end at the first tick past it, as
 * docs/service.md says they do. Each job now has a lane of its own; a lane never overlaps itself.
 */
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, startLive } from '../adapters/runtime/index.ts';
import { cmd, T0 } from './support/fleet.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const folder = temporaryFolders('credence-expiry-backlog-');
const DUE = 20;
const DAY = 86_400_000;

describe('a backlog of due expiries', () => {
  it('does not hold the protocol-session sweep back past one tick, and is issued once its commands go through', async () => {
    const clock = new FakeClock(T0);
    const credence = openCredence({ location: { dir: folder() }, clock });
    // Given subscriptions whose end has passed
    for (let n = 0; n < DUE; n++) await credence.engine.execute(cmd.createSubscription(`sub-${n}`, new Date(Date.parse(T0) + DAY).toISOString()));
    await credence.settle();
    clock.advance(2 * DAY);

    // And the expiry tick's commands held (a backlog the store has not got through yet): each waits for `release`
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const { engine } = credence;
    const executeAsSystem = engine.executeAsSystem.bind(engine);
    let held = 0;
    engine.executeAsSystem = async (...args) => {
      held++;
      await released;
      return executeAsSystem(...args);
    };
    const { scheduler } = credence;
    const expiryTick = scheduler.tick.bind(scheduler);
    let expiryTicks = 0;
    let expiryTicksRunning = 0;
    let expiryTicksOverlapping = 0;
    scheduler.tick = async () => {
      expiryTicks++;
      if (++expiryTicksRunning > 1) expiryTicksOverlapping++;
      try {
        return await expiryTick();
      } finally {
        expiryTicksRunning--;
      }
    };
    const sweep = credence.sweepExpiredRuns;
    let sweeps = 0;
    credence.sweepExpiredRuns = () => {
      sweeps++;
      return sweep();
    };

    const live = startLive(credence, { tickMs: 10 });
    try {
      await live.start();
      // When the expiry tick is stuck in its backlog
      await expect.poll(() => held, { timeout: 10_000, interval: 10 }).toBeGreaterThan(0);
      const sweepsWhenHeld = sweeps;
      // Then the sweep still runs at the ticks that follow, while the one expiry tick is still running
      await expect.poll(() => sweeps, { timeout: 10_000, interval: 10 }).toBeGreaterThanOrEqual(sweepsWhenHeld + 3);
      expect(expiryTicks).toBe(1);
      expect(held).toBe(1);

      // And once the store gets through, every due subscription expires, each once, and no expiry tick overlapped another
      release();
      await expect
        .poll(async () => (await Promise.all(Array.from({ length: DUE }, (_, n) => credence.engine.view('subscription', `sub-${n}`)))).every((v) => v.state === 'expired'), {
          timeout: 20_000,
          interval: 20,
        })
        .toBe(true);
      expect(expiryTicksOverlapping).toBe(0);
      let expired = 0;
      for await (const e of credence.store.readAll({ filter: { eventTypes: ['SubscriptionExpired'] } })) if (e.type === 'SubscriptionExpired') expired++;
      expect(expired).toBe(DUE);
    } finally {
      release();
      await live.stop();
      await credence.close();
    }
  });
});
