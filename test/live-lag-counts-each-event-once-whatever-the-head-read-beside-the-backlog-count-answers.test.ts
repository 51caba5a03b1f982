import { setImmediate as turn } from 'node:timers/promises';
import { describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, startLive, type Credence } from '../adapters/runtime/index.ts';
import { COMPLIANCE_EVENT_TYPES } from '../projections/compliance/index.ts';
import { cmd, T0 } from './support/fleet.ts';
import { heldReadModelRebuild } from './support/held-read-model-rebuild.ts';
import { enrolledFleetIn, eventsOf, writtenByTheVersionBefore } from './support/read-model-folder.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * At start a rebuilt read model's backlog is counted (runner.lag) while the live subscription counts every event
 * appended after the head read at start; the two meet at the position the count says it covered (its `head`). That
 * position was a head read apart from the count, after it: a head read answered short of an event the count had read
 * (a node's enrolment, its registration before it) let the subscription count that enrolment again, and an event
 * appended between the count's read and that head read was in neither. The count's bound is now read before it and
 * bounds it: whatever order the count, the appends and the deliveries come in, each event is counted once.
 */
const scratch = temporaryFolders('credence-lag-boundary-');
const NODES = 20;

/** How long a count or a delivery may take on a loaded machine: waited for, never a fixed pause alone. */
const SETTLED = { timeout: 30_000, interval: 20 };

/** A folder whose compliance read model is rebuilt at the next start (its schema version changed). */
const rebuiltAtStart = async (): Promise<string> => {
  const dir = scratch();
  await enrolledFleetIn(dir, NODES);
  const built = openCredence({ location: { dir }, clock: new FakeClock(T0) });
  await built.settle();
  await built.close();
  writtenByTheVersionBefore(dir, 'compliance');
  return dir;
};

/**
 * Starts the live runtime over `c` with the compliance read model's rebuild held, `beforeCount` run once the head was
 * read at start and before its backlog is counted, and `duringCount` in place of the store's first head read made
 * while it is counted; returns its lag once the appends are delivered, and the events of its types.
 */
const lagWhenCounted = async (
  dir: string,
  c: Credence,
  beforeCount: () => Promise<void>,
  duringCount: (head: () => Promise<bigint | undefined>) => Promise<bigint | undefined>,
): Promise<{ lag: number; toRead: number }> => {
  const { counting, counted, release } = heldReadModelRebuild(c.runner, 'compliance', beforeCount);
  // What the live subscription delivered, seen as the runtime takes it.
  let deliveredThrough = 0n;
  const subscribe = c.store.subscribeToAll.bind(c.store);
  c.store.subscribeToAll = (options) => {
    const subscription = subscribe(options);
    return {
      unsubscribe: () => subscription.unsubscribe(),
      [Symbol.asyncIterator]: () => {
        const events = subscription[Symbol.asyncIterator]();
        return {
          next: async () => {
            const result = await events.next();
            if (result.done !== true && result.value.position > deliveredThrough) deliveredThrough = result.value.position;
            return result;
          },
        };
      },
    };
  };
  const head = c.store.headPosition.bind(c.store);
  let hooked = false;
  c.store.headPosition = () => {
    if (!counting() || hooked) return head();
    hooked = true;
    return duringCount(head);
  };
  const live = startLive(c);
  try {
    const starting = live.start();
    // Counted, and everything appended delivered to the runtime (and taken by it, a turn of the event loop later)
    await vi.waitFor(() => expect(counted()).toBe(true), SETTLED);
    const head = (await c.store.headPosition())!;
    await vi.waitFor(() => expect(deliveredThrough).toBeGreaterThanOrEqual(head), SETTLED);
    await turn();
    expect(hooked).toBe(true);
    const result = { lag: live.lag(['compliance']).eventsBehind, toRead: eventsOf(dir, COMPLIANCE_EVENT_TYPES) };
    expect((await live.status()).find((s) => s.name === 'compliance')).toMatchObject({ checkpoint: undefined, eventsBehind: result.lag });
    release();
    await starting;
    expect(await live.caughtUp((await c.store.headPosition())!, 10_000, ['compliance'])).toBe(true);
    expect(live.lag(['compliance'])).toEqual({ eventsBehind: 0, secondsBehind: 0 });
    return result;
  } finally {
    release();
    await live.stop();
  }
};

describe('the live lag of a read model rebuilt at start, where its backlog count meets the subscription', () => {
  it('counts an enrolment once when the head read beside the count answers short of it', async () => {
    // Given a rebuilt read model
    const dir = await rebuiltAtStart();
    const c = openCredence({ location: { dir }, clock: new FakeClock(T0) });
    try {
      // When a node is registered and enrolled after the head was read at start, before its backlog is counted, and
      // the store's head read beside the count answers as it stood before the enrolment (a read answered late)
      const { lag, toRead } = await lagWhenCounted(
        dir,
        c,
        async () => {
          await c.engine.execute(cmd.registerNode('meter-late'));
          await c.engine.execute(cmd.enrolNode('meter-late'));
        },
        async (head) => (await head())! - 1n,
      );
      // Then the enrolment is counted once: the read model is behind by the events of its types, no more
      expect(lag).toBe(toRead);
    } finally {
      await c.close();
    }
  }, 60_000);

  it('counts an enrolment appended between the count and the head read beside it, not in neither', async () => {
    // Given a rebuilt read model
    const dir = await rebuiltAtStart();
    const c = openCredence({ location: { dir }, clock: new FakeClock(T0) });
    try {
      // When a node is enrolled as its backlog is counted, just before the store's head read beside the count answers
      const { lag, toRead } = await lagWhenCounted(dir, c, async () => undefined, async (head) => {
        await c.engine.execute(cmd.registerNode('meter-late'));
        await c.engine.execute(cmd.enrolNode('meter-late'));
        return head();
      });
      // Then the read model is behind by every event of its types, that enrolment included, once
      expect(lag).toBe(toRead);
    } finally {
      await c.close();
    }
  }, 60_000);
});
