import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { CommandSink } from '../domain/ports/index.ts';
import { expiryScheduler } from '../projections/expiry/index.ts';
import { putDeadline } from '../projections/expiry/deadlines.ts';
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

describe('the expiry scheduler after a failure that ends its tick', () => {
  it('starts the next tick at the deadline that failed, not past the rest of its page', async () => {
    const due = Date.parse(T0);
    let calls = 0;
    const issued: string[] = [];
    const engine = {
      clock: { now: () => new Date(due + 10_000) },
      async executeAsSystem(command: { data: { associationId: string } }) {
        // The store's I/O failing once: not a refusal of this deadline, so the tick ends there.
        if (calls++ === 0) throw new Error('store I/O');
        issued.push(command.data.associationId);
        return { deduplicated: false, events: [] };
      },
    } as unknown as CommandSink;
    const db = new Database(':memory:');
    const scheduler = expiryScheduler(engine);
    scheduler.setup!(db);
    const id = (i: number) => `a${String(i).padStart(4, '0')}`;
    for (let i = 0; i < 2_500; i++) {
      putDeadline(db, { stream: `association-${id(i)}`, purpose: 'expiry', due: due + i, command: { type: 'expireAssociation', data: { associationId: id(i) } } });
    }
    await expect(scheduler.tick()).rejects.toThrow(/1 due deadline\(s\) could not be handled/);
    expect(issued).toEqual([]);
    await scheduler.tick();
    // The failed one and the 999 behind it on its page, oldest first; not the next page.
    expect(issued).toEqual(Array.from({ length: 1_000 }, (_, i) => id(i)));
    db.close();
  });
});
