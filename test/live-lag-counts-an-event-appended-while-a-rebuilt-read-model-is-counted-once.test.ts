import { describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, startLive } from '../adapters/runtime/index.ts';
import { COMPLIANCE_EVENT_TYPES } from '../projections/compliance/index.ts';
import { cmd, T0 } from './support/fleet.ts';
import { heldReadModelRebuild } from './support/held-read-model-rebuild.ts';
import { enrolledFleetIn, eventsOf, writtenByTheVersionBefore } from './support/read-model-folder.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * A read model whose schema version changed is emptied when opened and rebuilt by the live runtime's first pass; at
 * start its backlog is counted (runner.lag) while the subscription already counts what is appended after the head
 * read at start. The count read past that head, so an event appended between the two was in both: the rebuilt read
 * model's lag (status, /metrics) said more events than it had to read until its rebuild ended. It is counted once.
 */
const scratch = temporaryFolders('credence-rebuilt-lag-');
const NODES = 200;

/** Long enough for the live subscription to deliver what was just appended (the store wakes it on each append). */
const delivered = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 200));

describe('the live lag of a read model rebuilt at start', () => {
  it('counts an event appended while its backlog was counted once, and one appended after on top', async () => {
    // Given a folder whose read models are built, the compliance read model's by the version before
    const dir = scratch();
    await enrolledFleetIn(dir, NODES);
    const built = openCredence({ location: { dir }, clock: new FakeClock(T0) });
    await built.settle();
    await built.close();
    writtenByTheVersionBefore(dir, 'compliance');

    const c = openCredence({ location: { dir }, clock: new FakeClock(T0) });
    expect(c.runner.schemaChanges().map((s) => s.name)).toEqual(['compliance']);
    // A node enrolled after the runtime read the head at start and before the rebuilt read model's backlog is counted,
    // and its rebuild held until the lag has been read
    const { counted, release } = heldReadModelRebuild(c.runner, 'compliance', async () => {
      await c.engine.execute(cmd.registerNode('meter-late'));
      await c.engine.execute(cmd.enrolNode('meter-late'));
    });
    const live = startLive(c);
    try {
      // When the live runtime starts, that node's enrolment is stored and counted, and the subscription has had time
      // to deliver it (waited for as it happens: a fixed pause read the store before the enrolment was in, on a loaded
      // machine, and expected one event fewer than the count rightly said)
      const starting = live.start();
      await vi.waitFor(() => expect(counted()).toBe(true), { timeout: 30_000, interval: 20 });
      await delivered();

      // Then the rebuilt read model is behind by exactly the events of its types it reads, that enrolment once
      const toRead = eventsOf(dir, COMPLIANCE_EVENT_TYPES);
      expect(live.lag(['compliance']).eventsBehind).toBe(toRead);
      expect((await live.status()).find((s) => s.name === 'compliance')).toMatchObject({ checkpoint: undefined, eventsBehind: toRead });

      // And an event appended once it was counted is counted on top, as the subscription delivers it
      await c.engine.execute(cmd.registerNode('meter-later'));
      await vi.waitFor(() => expect(live.lag(['compliance']).eventsBehind).toBeGreaterThan(toRead), { timeout: 30_000, interval: 20 });
      await delivered();
      expect(live.lag(['compliance']).eventsBehind).toBe(toRead + 1);

      // And nothing once its rebuild has read them
      release();
      await starting;
      expect(await live.caughtUp((await c.store.headPosition())!, 10_000, ['compliance'])).toBe(true);
      expect(live.lag(['compliance'])).toEqual({ eventsBehind: 0, secondsBehind: 0 });
    } finally {
      release();
      await live.stop();
      await c.close();
    }
  }, 60_000);
});
