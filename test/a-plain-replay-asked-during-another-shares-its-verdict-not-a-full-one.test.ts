import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { FleetReplayer } from '../adapters/replay-workers/fleet-replayer.ts';
import type { EventStore } from '../domain/ports/event-store.ts';
import { cmd, fixture } from './support/fleet.ts';
import { withoutSyncPages } from './support/sync-pages.ts';

/*
 * Review 242 (F4): a run cleared the replayer's kept verifier while it ran, so a plain verdict asked meanwhile was
 * taken for the first one ever and queued a whole re-verification behind it (with a store read over the network, as
 * EventStoreDB is: the first call `incremental 1`, the one asked during it `full` over every event). Asked during
 * another run, a plain verdict now shares it.
 */
describe('a plain fleet verdict asked while another replay runs', () => {
  /** The store as EventStoreDB reads it (records arriving over turns of the loop), telling when each read starts. */
  const overTheNetwork = (store: EventStore, onRead: (afterPosition: bigint | undefined) => void): EventStore => {
    const bare = withoutSyncPages(store);
    return {
      ...bare,
      readAll: (options = {}) => {
        onRead(options.afterPosition);
        return (async function* () {
          for await (const record of store.readAll(options)) {
            await nextTurn();
            yield record;
          }
        })();
      },
    };
  };

  it('shares the incremental run in flight: no full re-verification is queued behind it', async () => {
    const store = openSqliteStore({ memory: true });
    const { engine } = fixture(store);
    await engine.execute(cmd.createSubscription());
    for (let n = 1; n <= 4; n++) await engine.execute(cmd.registerNode(`meter-${n}`));
    const reads: (bigint | undefined)[] = [];
    let readStarted: () => void = () => undefined;
    const replayer = new FleetReplayer(overTheNetwork(store, (after) => {
      reads.push(after);
      readStarted();
    }));

    const first = await replayer.verdict();
    expect(first).toMatchObject({ mode: 'full', verifiedNow: first.replay.events });
    await engine.execute(cmd.enrolNode('meter-1'));

    // Given an incremental run reading the store
    const reading = new Promise<void>((resolve) => (readStarted = resolve));
    const running = replayer.verdict();
    await reading;
    readStarted = () => undefined;
    // When a plain verdict is asked while it runs
    const during = replayer.verdict();

    // Then both get the incremental verdict of the one event appended, and the store was read from 0 only once
    const [a, b] = await Promise.all([running, during]);
    expect(a).toMatchObject({ mode: 'incremental', verifiedNow: 1, replay: { events: first.replay.events + 1 } });
    expect(b).toEqual(a);
    expect(reads.filter((after) => after === undefined || after === 0n)).toHaveLength(1);

    // And a plain verdict after it goes on from it, verifying nothing again
    expect(await replayer.verdict()).toMatchObject({ mode: 'incremental', verifiedNow: 0 });
    await store.close();
  });

  it('asked while a full one runs, shares it; full=true asked during a plain run gets a full run of its own', async () => {
    const store = openSqliteStore({ memory: true });
    const { engine } = fixture(store);
    await engine.execute(cmd.createSubscription());
    await engine.execute(cmd.registerNode('meter-1'));
    let readStarted: () => void = () => undefined;
    const replayer = new FleetReplayer(overTheNetwork(store, () => readStarted()));
    await replayer.verdict();

    const reading = new Promise<void>((resolve) => (readStarted = resolve));
    const full = replayer.verdict({ full: true });
    await reading;
    readStarted = () => undefined;
    const plain = replayer.verdict();
    expect(await plain).toBe(await full);
    expect(await full).toMatchObject({ mode: 'full' });

    const plainReading = new Promise<void>((resolve) => (readStarted = resolve));
    const incremental = replayer.verdict();
    await plainReading;
    readStarted = () => undefined;
    const fullAgain = replayer.verdict({ full: true });
    expect(await incremental).toMatchObject({ mode: 'incremental' });
    expect(await fullAgain).toMatchObject({ mode: 'full', verifiedNow: (await fullAgain).replay.events });
    await store.close();
  });
});
