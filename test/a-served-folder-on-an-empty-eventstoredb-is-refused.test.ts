import { existsSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startStandIn, type StandIn } from './esdb-standin/index.ts';
import { cmd } from './support/fleet.ts';
import { folderSnapshot } from './support/served-folder.ts';
import { startTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 84, left from its fix: a data folder served on an EventStoreDB store, started on an empty one (the setting
 * pointed at a new server), was served as an empty fleet: its read models wiped and rebuilt empty, and, its log moved
 * aside, a new log started over nothing. The embedded store's counterpart (events.db missing) was refused at start;
 * this one now is too, naming the setting and what the folder holds, before anything is written.
 */
const scratch = temporaryFolders('credence-served-folder-empty-esdb-');

// Each test's own: the store its folder was served on, and a new, empty one.
let held: StandIn;
let empty: StandIn;
beforeEach(async () => {
  held = await startStandIn();
  empty = await startStandIn();
});
afterEach(async () => {
  await held.stop();
  await empty.stop();
});

/** A folder served on `store`, holding one registered node (`nodeId`), logged and handled. */
const servedOn = async (dir: string, store: string, nodeId: string): Promise<void> => {
  const svc = await startTestService({ dir, config: { store } });
  try {
    const last = (await svc.service.context.credence.engine.execute(cmd.registerNode(nodeId))).events.at(-1)!.position;
    if (!(await svc.service.context.live.caughtUp(last, 30_000))) throw new Error('the live runtime did not catch up');
  } finally {
    await svc.close();
  }
};

/** Why the service refuses `dir` on `store` (its rule and message); a start it does not refuse is closed and fails the test. */
const refusal = async (dir: string, store: string): Promise<string> => {
  let started: Awaited<ReturnType<typeof startTestService>>;
  try {
    started = await startTestService({ dir, config: { store } });
  } catch (error) {
    const issues = (error as { problem?: { issues?: { path: string; rule: string }[] } }).problem?.issues ?? [];
    return `${issues.map((i) => `${i.path} ${i.rule}`).join(' ')}: ${(error as Error).message}`;
  }
  await started.close();
  throw new Error(`${dir} was served on an empty store`);
};

describe('a data folder served on EventStoreDB, started on an empty one', () => {
  it('is refused, naming the store setting and the log and read models, nothing written to the folder or the store', async () => {
    const data = scratch();
    await servedOn(data, held.connectionString, 'meter-1');
    const before = folderSnapshot(data);
    const appended = empty.log.all.length;

    const refused = await refusal(data, empty.connectionString);

    expect(refused).toMatch(/^store event_store_empty:/);
    expect(refused).toMatch(/transparency\.db has logged \d+ events/);
    expect(refused).toMatch(/readmodels\.db holds read models/);
    expect(refused).toMatch(/Restoring the event store from a backup/);
    expect(refused).not.toContain(empty.connectionString);
    expect(folderSnapshot(data)).toEqual(before);
    expect(empty.log.all.length).toBe(appended);
  }, 120_000);

  it('is refused for its read models alone, its log moved aside for a new one (restore step 4)', async () => {
    const data = scratch();
    const aside = scratch();
    await servedOn(data, held.connectionString, 'meter-2');
    for (const name of readdirSync(data).filter((n) => n.startsWith('transparency.'))) renameSync(join(data, name), join(aside, name));
    const before = folderSnapshot(data);

    const refused = await refusal(data, empty.connectionString);

    expect(refused).toMatch(/^store event_store_empty:/);
    expect(refused).toMatch(/readmodels\.db holds read models/);
    expect(folderSnapshot(data)).toEqual(before);
    expect(existsSync(join(data, 'transparency.db'))).toBe(false);
  }, 120_000);

  it('starts on the store that holds its events, and a new folder starts on an empty store', async () => {
    const data = scratch();
    await servedOn(data, held.connectionString, 'meter-3');
    await (await startTestService({ dir: data, config: { store: held.connectionString } })).close();

    const fresh = join(scratch(), 'data');
    await (await startTestService({ dir: fresh, config: { store: empty.connectionString } })).close();
    expect(existsSync(join(fresh, 'transparency.db'))).toBe(true);
  }, 120_000);
});
