/**
 * Review 221: the live runtime's expiry ticks trusted the wall clock. Stepped a year ahead for a single tick, it
 * expired the whole fleet (SubscriptionExpired, NodeEnrolmentExpired, CredentialExpired, AssociationExpired dated in
 * the future), the shredder destroyed their keys for good, and the clock stepped back again brought none of it back.
 * The expiry lane now checks how far the engine's clock moved against the monotonic clock: ahead by more than
 * WALL_CLOCK_AHEAD_TOLERANCE_MS, the tick is held and the expiry component says why; back within it, ticks resume.
 * Review 222: it compares with a fixed anchor, the first tick, allowing the tolerance plus WALL_CLOCK_DRIFT_PPM of the
 * time elapsed (wallClockAllowanceMs), so a clock walked ahead in steps each within the tolerance is held too.
 */
import { describe, expect, it } from 'vitest';
import type { Clock } from '../adapters/runtime/index.ts';
import { openCredence, startLive } from '../adapters/runtime/index.ts';
import { WALL_CLOCK_AHEAD_TOLERANCE_MS, wallClockAllowanceMs } from '../adapters/runtime/wall-clock-guard.ts';
import { establishOne, T0 } from './support/fleet.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const folder = temporaryFolders('credence-wall-clock-ahead-');
const DAY = 86_400_000;
const MINUTE = 60_000;
const ENDINGS = ['SubscriptionExpired', 'NodeEnrolmentExpired', 'CredentialExpired', 'AssociationExpired'] as const;

/** A wall clock stepped by hand, either way, and a monotonic clock that only ever moves forward. */
const clocks = () => {
  let wall = Date.parse(T0);
  let monotonic = 1_000;
  const clock: Clock = { now: () => new Date(wall) };
  return {
    clock,
    monotonicNow: () => monotonic,
    /** Time passes: both clocks move. */
    elapse: (ms: number) => {
      wall += ms;
      monotonic += ms;
    },
    /** The wall clock alone is set (a wrong time source, an operator's typo, NTP stepping it back). */
    setWall: (ms: number) => {
      wall = ms;
    },
  };
};

/**
 * A folder with one fleet established (sub-1 ending at day 365, cred-1 at day 90, sa-1 at day 30), its live runtime
 * ticking every 10 ms on hand-stepped clocks, not started yet; each error reported as `report` says it (its component).
 */
const liveFleet = async (report: (component: string, error: unknown) => string = (component) => component) => {
  const c = clocks();
  const credence = openCredence({ location: { dir: folder() }, clock: c.clock });
  await establishOne(credence.engine);
  await credence.settle();
  const reported: string[] = [];
  const live = startLive(credence, { tickMs: 10, monotonicNow: c.monotonicNow, onError: (component, error) => reported.push(report(component, error)) });
  const expiryError = async (): Promise<string | undefined> => (await live.status()).find((s) => s.name === 'expiry')?.error;
  const stop = async () => {
    await live.stop();
    await credence.close();
  };
  return { c, credence, live, reported, expiryError, stop };
};

describe('the live expiry ticks, the wall clock stepped ahead of the monotonic clock', () => {
  it('issue no expiry while it is ahead, say why, and expire each entity at its due time once the clock is back', async () => {
    // Given sub-1 ending at day 365, cred-1 at day 90 and sa-1 at day 30
    const { c, credence, live, reported, expiryError, stop } = await liveFleet((component, error) => `${component}: ${(error as Error).message}`);
    const endings = async (): Promise<Record<string, string>> => {
      const found: Record<string, string> = {};
      for await (const e of credence.store.readAll({ filter: { eventTypes: [...ENDINGS] } })) found[e.type] = String(e.metadata['occurredAt']);
      return found;
    };
    let ticks = 0;
    const tick = credence.scheduler.tick.bind(credence.scheduler);
    credence.scheduler.tick = () => {
      ticks++;
      return tick();
    };
    try {
      await live.start();
      // A first tick takes the reference reading
      await expect.poll(() => ticks, { timeout: 10_000, interval: 10 }).toBeGreaterThan(0);
      // And two days pass
      c.elapse(2 * DAY);
      await new Promise((resolve) => setTimeout(resolve, 50));

      // When the wall clock alone is set to day 400
      c.setWall(Date.parse(T0) + 400 * DAY);
      await new Promise((resolve) => setTimeout(resolve, 200));
      // Then nothing is issued over the ticks that follow
      expect(await endings()).toEqual({});
      // And the expiry component fails, saying what it saw, that expiries are held, and what to do
      await expect.poll(expiryError, { timeout: 10_000, interval: 10 }).toMatch(
        /^the wall clock is \d+ s ahead of the time elapsed since 2026-01-0\dT[\d:.]+Z: expiries are held, none is issued\. If the clock is wrong, correct it: the hold ends by itself .*restart the service to accept it\.$/,
      );
      expect(Number(/is (\d+) s ahead/.exec((await expiryError())!)![1])).toBe(398 * 86_400);
      const heldTicks = ticks;
      await new Promise((resolve) => setTimeout(resolve, 200));
      // And the scheduler is not run while the hold lasts, which is logged once, not at each tick
      expect(ticks).toBe(heldTicks);
      expect(await endings()).toEqual({});
      expect(reported.filter((r) => r.startsWith('expiry: '))).toHaveLength(1);
      // And it counts as failing, as /readyz reads it
      expect(live.failing!().find((f) => f.name === 'expiry')?.forMs).toBeGreaterThanOrEqual(0);

      // When the clock is put back (day 2, as the monotonic clock bears out)
      c.setWall(Date.parse(T0) + 2 * DAY);
      // Then the hold ends by itself, and nothing has ended
      await expect.poll(expiryError, { timeout: 10_000, interval: 10 }).toBeUndefined();
      expect(live.failing!().find((f) => f.name === 'expiry')?.forMs).toBeUndefined();
      expect(await endings()).toEqual({});
      for (const [type, id] of [['subscription', 'sub-1'], ['credential', 'cred-1'], ['association', 'sa-1']] as const) {
        expect((await credence.engine.view(type, id)).state, id).not.toBe('expired');
      }

      // When time passes up to a few minutes before sa-1's end, and the wall clock alone then steps within the tolerance
      c.elapse(Date.parse(T0) + 30 * DAY - 5 * MINUTE - c.clock.now().getTime());
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await endings()).toEqual({});
      c.setWall(c.clock.now().getTime() + WALL_CLOCK_AHEAD_TOLERANCE_MS - MINUTE);
      // Then that is no hold: sa-1 expires, at the wall clock's time, and nothing else does
      await expect.poll(async () => (await endings())['AssociationExpired'], { timeout: 10_000, interval: 10 }).toBeDefined();
      expect(Date.parse((await endings())['AssociationExpired']!)).toBe(Date.parse(T0) + 30 * DAY + 4 * MINUTE);
      expect(await expiryError()).toBeUndefined();
      expect(Object.keys(await endings())).toEqual(['AssociationExpired']);

      // When time passes to day 91, then day 366: cred-1, then sub-1 (and the node's enrolment with it) end at their due time
      c.elapse(Date.parse(T0) + 91 * DAY - c.clock.now().getTime());
      await expect.poll(async () => (await endings())['CredentialExpired'], { timeout: 10_000, interval: 10 }).toBe(new Date(Date.parse(T0) + 91 * DAY).toISOString());
      expect(Object.keys(await endings()).sort()).toEqual(['AssociationExpired', 'CredentialExpired']);
      c.elapse(Date.parse(T0) + 366 * DAY - c.clock.now().getTime());
      await expect.poll(async () => Object.keys(await endings()).sort(), { timeout: 10_000, interval: 10 }).toEqual([...ENDINGS].sort());
      expect(await expiryError()).toBeUndefined();
      expect(reported.filter((r) => r.startsWith('expiry: '))).toHaveLength(1);
    } finally {
      await stop();
    }
  }, 60_000);

  it('holds again at each new jump, and a wall clock stepped back, then forward to the right time again, holds nothing', async () => {
    const { c, credence, live, reported, expiryError, stop } = await liveFleet();
    try {
      await live.start();
      // Given the wall clock stepped back a day (NTP correcting a clock that ran ahead): no hold
      c.elapse(10 * DAY);
      await new Promise((resolve) => setTimeout(resolve, 50));
      c.setWall(c.clock.now().getTime() - DAY);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await expiryError()).toBeUndefined();
      // And stepped forward to the right time again (the back step was the mistake): no jump, no hold
      c.setWall(c.clock.now().getTime() + DAY);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await expiryError()).toBeUndefined();
      // When it is stepped ahead past the allowance (the tolerance and 1 ms a second for the 10 days since the first
      // tick: 1464 s) twice, put right in between
      const past = wallClockAllowanceMs(10 * DAY) + MINUTE;
      for (let n = 1; n <= 2; n++) {
        const before = c.clock.now().getTime();
        c.setWall(before + past);
        await expect.poll(expiryError, { timeout: 10_000, interval: 10 }).toMatch(new RegExp(`^the wall clock is ${past / 1000} s ahead of the time elapsed since 2026-01-01T00:00:00.000Z: `));
        c.setWall(before);
        await expect.poll(expiryError, { timeout: 10_000, interval: 10 }).toBeUndefined();
      }
      // Then each hold is logged once
      expect(reported.filter((r) => r === 'expiry')).toHaveLength(2);
      expect((await credence.engine.view('association', 'sa-1')).state).not.toBe('expired');
    } finally {
      await stop();
    }
  }, 30_000);

  it('holds a clock walked ahead in steps each within the tolerance once they add up past the allowance (review 222)', async () => {
    const { c, live, reported, expiryError, stop } = await liveFleet();
    try {
      await live.start();
      await new Promise((resolve) => setTimeout(resolve, 50));
      // Given a first step of 9 minutes (a time source within the tolerance): no hold
      c.setWall(c.clock.now().getTime() + 9 * MINUTE);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await expiryError()).toBeUndefined();
      // When the time source steps it 9 minutes again, and again, a few minutes apart
      for (let step = 2; step <= 6; step++) {
        c.elapse(3 * MINUTE);
        c.setWall(c.clock.now().getTime() + 9 * MINUTE);
        await new Promise((resolve) => setTimeout(resolve, 50));
        // Then from the second step on, the ticks are held, naming how far the steps have taken it
        await expect.poll(expiryError, { timeout: 10_000, interval: 10 }).toMatch(new RegExp(`^the wall clock is ${step * 9 * 60} s ahead of the time elapsed since 2026-01-01T00:00:00.000Z: `));
      }
      // And the hold is logged once
      expect(reported.filter((r) => r === 'expiry')).toHaveLength(1);
      // When the clock is put right: the hold ends by itself
      c.setWall(c.clock.now().getTime() - 6 * 9 * MINUTE);
      await expect.poll(expiryError, { timeout: 10_000, interval: 10 }).toBeUndefined();
    } finally {
      await stop();
    }
  }, 30_000);
});
