import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import type { Clock } from '../domain/ports/index.ts';
import { at, cmd, establishMeter, T0 } from './support/fleet.ts';
import { tamper } from './support/tampered-log.ts';

/*
 * Found in review: the expiry scheduler's tick went through the due deadlines in order and stopped at the first
 * error that was not a refusal, so one deadline it could not handle (a broken history) was the oldest due for good
 * and nothing behind it ever expired. And a refusal read as "done already" dropped the deadline even when the clock
 * had gone back between the tick's read and the decision (the machine answering "not yet"), so that expiry was lost.
 */
describe('the expiry scheduler', () => {
  it('expires what is due behind a deadline it cannot handle, keeps that one, and says so', async () => {
    const clock = new FakeClock(T0);
    const c = openCredence({ location: { memory: true }, clock });
    await c.engine.execute(cmd.createSubscription());
    for (const n of [1, 2]) {
      await c.engine.execute(cmd.registerNode(`meter-${n}`));
      await establishMeter(c.engine, n);
    }
    await c.settle();
    // sa-1 (due first) established twice: its expiry is refused as a broken history.
    await tamper(c, 'association-sa-1', 'AssociationEstablished', { associationId: 'sa-1', expiresAt: at(30) });
    await c.settle().catch(() => undefined);
    clock.set(at(31));
    const refused = await c.scheduler.tick().then(() => undefined, (error: unknown) => error);
    expect(String(refused)).toMatch(/1 due deadline\(s\) could not be handled and are kept for the next tick; the first, association-sa-1/);
    expect(String((await c.engine.entity('association', 'sa-2')).snapshot.value)).toBe('expired');
    // Kept: tried again at the next tick.
    expect(String(await c.scheduler.tick().then(() => undefined, (error: unknown) => error))).toMatch(/association-sa-1/);
    await c.close();
  });

  it('keeps a deadline the machine refused as not due yet, the clock having gone back since the tick read it', async () => {
    let ms = Date.parse(T0);
    let stepBack = false;
    const clock: Clock = {
      now: () => {
        const now = new Date(ms);
        if (stepBack) {
          stepBack = false;
          ms -= 2_000;
        }
        return now;
      },
    };
    const c = openCredence({ location: { memory: true }, clock });
    await c.engine.execute(cmd.createSubscription());
    await c.engine.execute(cmd.registerNode('meter-1'));
    await establishMeter(c.engine, 1);
    await c.settle();
    ms = Date.parse(at(30)) + 1_000;
    stepBack = true;
    expect(await c.scheduler.tick()).toBe(0);
    ms += 3_600_000;
    expect(await c.scheduler.tick()).toBeGreaterThan(0);
    expect(String((await c.engine.entity('association', 'sa-1')).snapshot.value)).toBe('expired');
    await c.close();
  });
});
