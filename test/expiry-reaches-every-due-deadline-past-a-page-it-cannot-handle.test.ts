import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { ExpectedRevision } from '../domain/ports/index.ts';
import { at, cmd, establishMeter, T0 } from './support/fleet.ts';

/*
 * A tick reads the due deadlines a page (1,000) at a time, oldest first. A deadline it cannot handle (a broken
 * history) is kept and tried again: so a full page of them at the front was read again at every tick, and no
 * deadline behind them ever came due (found in review). Each tick now goes on from where the last one stopped, and
 * starts at the oldest again once it has reached the newest.
 */
describe('the expiry scheduler', () => {
  it('expires a deadline behind a whole page of deadlines it cannot handle', async () => {
    const clock = new FakeClock(T0);
    const c = openCredence({ location: { memory: true }, clock });
    try {
      await c.engine.execute(cmd.createSubscription());
      await c.engine.execute(cmd.registerNode('meter-1'));
      await establishMeter(c.engine, 1); // sa-1 expires at day 30
      const [planted] = await c.store.readStream('association-sa-1');
      // 1,000 associations established out of nowhere (no configuration): each expiry is refused as a broken history.
      for (let i = 0; i < 1_000; i++) {
        await c.store.appendToStream(
          `association-broken-${i}`,
          [{ id: crypto.randomUUID(), type: 'AssociationEstablished', data: { associationId: `broken-${i}`, expiresAt: at(20) }, metadata: { ...planted!.metadata, commandId: crypto.randomUUID() } }],
          { expectedRevision: ExpectedRevision.any },
        );
      }
      await c.settle().catch(() => undefined);
      clock.set(at(31));

      const ticks: string[] = [];
      for (let tick = 0; tick < 3 && String((await c.engine.entity('association', 'sa-1')).snapshot.value) !== 'expired'; tick++) {
        ticks.push(String(await c.scheduler.tick().then((issued) => `issued ${issued}`, (error: unknown) => error)));
      }
      expect(String((await c.engine.entity('association', 'sa-1')).snapshot.value)).toBe('expired');
      // The broken ones are kept, and said so.
      expect(ticks[0]).toMatch(/1000 due deadline\(s\) could not be handled and are kept for the next tick/);
      const after = await c.scheduler.tick().then(() => undefined, (error: unknown) => error);
      expect(String(after)).toMatch(/could not be handled/);
    } finally {
      await c.close();
    }
  }, 120_000);
});
