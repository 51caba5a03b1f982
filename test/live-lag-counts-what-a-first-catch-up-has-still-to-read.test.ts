import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, startLive, type ComponentStatus } from '../adapters/runtime/index.ts';
import { T0 } from './support/fleet.ts';
import { enrolledFleetIn } from './support/read-model-folder.ts';
import { moveTransparencyLogAside } from './support/restored-folder.ts';

/*
 * Review 51, after 30e1d6d: the live runtime's lag counted only what its subscription delivered, so during the first
 * catch-up (a fresh transparency log hashing every stored event, a read model rebuilt) every component read as 0
 * events behind, /metrics' lag gauges included. It now counts, at start, what each component has still to read.
 */

/** Two events each, a subscription's first: a log of a few thousand events. */
const NODES = 1500;

describe('the live lag during the first catch-up', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-first-lag-'));
  const aside = mkdtempSync(join(tmpdir(), 'credence-first-lag-aside-'));
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(aside, { recursive: true, force: true });
  });

  it('is the distance of the transparency log to the head while it logs the store afresh, falling as it logs', async () => {
    // Given a folder of a few thousand events whose read models are built, and whose transparency log was moved aside
    await enrolledFleetIn(dir, NODES);
    const built = openCredence({ location: { dir }, clock: new FakeClock(T0) });
    const first = startLive(built);
    await first.start();
    await first.stop();
    await built.close();
    moveTransparencyLogAside(dir, aside);

    // When the live runtime starts, its lag read at every turn of the event loop until the start ends
    const c = openCredence({ location: { dir }, clock: new FakeClock(T0) });
    const live = startLive(c);
    const head = (await c.store.headPosition())!;
    try {
      let started = false;
      const starting = live.start().finally(() => (started = true));
      const seen: { position: bigint | undefined; eventsBehind: number }[] = [];
      let status: ComponentStatus | undefined;
      while (!started) {
        await nextTurn();
        const position = c.transparency!.position;
        seen.push({ position, eventsBehind: live.lag(['transparency']).eventsBehind });
        if (status === undefined && position !== undefined && position < head) status = (await live.status()).find((s) => s.name === 'transparency');
      }
      await starting;

      // Then while the log had leaves to log, its lag was exactly the events between its newest leaf and the head
      const logging = seen.filter((s) => s.position !== undefined && s.position < head);
      expect(logging.length).toBeGreaterThan(1);
      for (const s of logging) expect(s.eventsBehind).toBe(Number(head - s.position!));
      expect(logging[logging.length - 1]!.eventsBehind).toBeLessThan(logging[0]!.eventsBehind);
      // And the read models, caught up, were not behind; nor was anything once the start ended
      expect(status).toMatchObject({ name: 'transparency', eventsBehind: expect.any(Number) });
      expect(status!.eventsBehind).toBeGreaterThan(0);
      expect(live.lag(c.runner.names).eventsBehind).toBe(0);
      expect(live.lag()).toEqual({ eventsBehind: 0, secondsBehind: 0 });
    } finally {
      await live.stop();
      await c.close();
    }
  }, 60_000);
});
