import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { READ_ALL_BACKWARDS, startStandIn, type StandIn } from './esdb-standin/index.ts';
import { cmd } from './support/fleet.ts';
import { servedFolderWith } from './support/served-folder.ts';
import { startTestService, type TestService } from './support/service.ts';
import { foreignRecord } from './support/shared-cluster.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 280's follow-up: the live runtime's start took where its subscription resumes from Credence's newest record
 * (OwnHead.scan: $all read backwards page by page past every record other applications wrote since), before the API
 * listens: on a busy shared cluster an unbounded read (5 s for 100,000 foreign records on the stand-in). Any record
 * of Credence's at or before the head is a correct start (what was delivered up to the head is passed over), and the
 * followers' checkpoints are such records: the scan is left to a folder none of them has handled. Counted as the
 * stand-in's reads during the live runtime's start, not timed.
 */

/** The stand-in's call log while each live runtime's `start()` ran. */
const watched = vi.hoisted(() => ({ calls: undefined as (() => readonly string[]) | undefined, starts: [] as string[][] }));
vi.mock('../adapters/runtime/live.ts', async (original) => {
  const real = await original<typeof import('../adapters/runtime/live.ts')>();
  return {
    ...real,
    startLive: (...args: Parameters<typeof real.startLive>) => {
      const runtime = real.startLive(...args);
      const start = runtime.start.bind(runtime);
      runtime.start = async () => {
        const from = watched.calls?.().length ?? 0;
        try {
          await start();
        } finally {
          watched.starts.push(watched.calls?.().slice(from) ?? []);
        }
      };
      return runtime;
    },
  };
});

const scratch = temporaryFolders('credence-live-start-large-shared-esdb-');

// Other applications' records after Credence's newest: four pages of the scan (256 a page). More than one is what
// counts: the first read of a scan is one from the end, each further page one from a position (what is counted).
const OTHERS = 1_000;
// No tick in the test's time: only the live subscription wakes the followers up.
const NO_TICK = { tickMs: 600_000 };

let shared: StandIn;
let svc: TestService | undefined;
beforeEach(async () => {
  shared = await startStandIn();
  watched.calls = () => shared.calls;
  watched.starts = [];
});
afterEach(async () => {
  await svc?.close();
  svc = undefined;
  await shared.stop();
});

const othersRecords = (count: number): void => {
  for (let i = 0; i < count; i++) foreignRecord(shared, `orders-${i % 50}`);
};

/** A served folder, `others` records of other applications after its newest, then the service started on it. */
const startedAfter = async (nodeId: string, others: number): Promise<{ service: TestService; start: readonly string[] }> => {
  const data = scratch();
  await servedFolderWith(data, [nodeId], shared.connectionString);
  othersRecords(others);
  watched.starts = [];
  svc = await startTestService({ dir: data, config: { store: shared.connectionString, ...NO_TICK } });
  expect(watched.starts).toHaveLength(1);
  return { service: svc, start: watched.starts[0]! };
};

const count = (calls: readonly string[], name: string): number => calls.filter((c) => c === name).length;

/** Waits, without kicking the live runtime (as `caughtUp` would), until `reached` holds; false after `ms`. */
const eventually = async (reached: () => boolean, ms: number): Promise<boolean> => {
  const until = Date.now() + ms;
  while (!reached()) {
    if (Date.now() > until) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
};

describe('the live runtime started on an EventStoreDB shared with busy other applications', () => {
  it("resumes from what its followers handled: $all is not scanned backwards past others' records", async () => {
    const { start } = await startedAfter('meter-1', OTHERS);

    // Each read of the store's newest record or its head is one from the end; a scan pages on from where it got to
    // (three pages more here, before).
    expect(count(start, READ_ALL_BACKWARDS.fromAPosition)).toBe(0);
  }, 120_000);

  it("resumes from a read model's checkpoint when the log's newest leaf is another application's record, since scavenged", async () => {
    const data = scratch();
    await servedFolderWith(data, ['meter-6'], shared.connectionString);
    svc = await startTestService({ dir: data, config: { store: shared.connectionString, ...NO_TICK } });
    foreignRecord(shared, 'orders-scavenged');
    const foreign = shared.log.all.at(-1)!.position;
    expect(await svc.service.context.live.caughtUp(foreign, 30_000, ['transparency'])).toBe(true);
    expect(svc.service.context.credence.transparency?.position).toBe(foreign);
    await svc.close();
    svc = undefined;
    shared.log.scavenge('orders-scavenged');
    othersRecords(OTHERS);
    watched.starts = [];

    svc = await startTestService({ dir: data, config: { store: shared.connectionString, ...NO_TICK } });
    const { credence, live } = svc.service.context;
    const position = (await credence.engine.execute(cmd.registerNode('meter-7'))).events.at(-1)!.position;

    expect(count(watched.starts[0]!, READ_ALL_BACKWARDS.fromAPosition)).toBe(0);
    expect(await eventually(() => (credence.transparency?.position ?? 0n) >= position && (credence.runner.checkpoint('audit') ?? 0n) >= position, 20_000)).toBe(true);
    expect((await live.status()).filter((c) => c.error !== undefined)).toEqual([]);
  }, 120_000);

  it('delivers what is appended after the start to the read models and the log through its subscription, nothing lost at its start point', async () => {
    const { service } = await startedAfter('meter-4', OTHERS);
    const { credence, live } = service.service.context;

    const position = (await credence.engine.execute(cmd.registerNode('meter-5'))).events.at(-1)!.position;

    const handled = (): boolean => (credence.transparency?.position ?? 0n) >= position && (credence.runner.checkpoint('audit') ?? 0n) >= position;
    expect(await eventually(handled, 20_000)).toBe(true);
    expect((await live.status()).filter((c) => c.error !== undefined)).toEqual([]);
  }, 120_000);
});
