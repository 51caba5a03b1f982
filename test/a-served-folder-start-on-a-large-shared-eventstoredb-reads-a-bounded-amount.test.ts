import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { refuseEmptyEventStoreForAServedFolder } from '../adapters/runtime/event-store-of-a-served-folder.ts';
import { startStandIn, type StandIn } from './esdb-standin/index.ts';
import { cmd } from './support/fleet.ts';
import { servedFolderWith } from './support/served-folder.ts';
import { startTestService } from './support/service.ts';
import { foreignRecord } from './support/shared-cluster.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 280 #1: the check made before a served folder starts on EventStoreDB (refuseEmptyEventStoreForAServedFolder)
 * asked for Credence's own head, which scans $all backwards page by page past every record other applications wrote
 * since Credence's newest: on a busy shared cluster an unbounded read before the API listens (5 s for 100,000 foreign
 * records on the stand-in), its answer thrown away. Whether the store holds the folder's log is the event the folder
 * logged there, read at its position, and else a record of Credence's among the store's newest: a bounded read,
 * however many records other applications wrote. Counted here as the stand-in's reads, not timed.
 */
const scratch = temporaryFolders('credence-served-folder-large-shared-esdb-');

// Other applications' records after Credence's newest: a dozen pages of the unbounded scan.
const OTHERS = 3_000;
// The bounded check: the event at each of two positions the folder logged (two reads each), and one page of $all.
const BOUNDED_READS = 5;

let shared: StandIn;
let another: StandIn;
beforeEach(async () => {
  shared = await startStandIn();
  another = await startStandIn();
});
afterEach(async () => {
  await shared.stop();
  await another.stop();
});

const othersRecords = (standIn: StandIn, count: number): void => {
  for (let i = 0; i < count; i++) foreignRecord(standIn, `orders-${i % 50}`);
};

/** The check run alone on `standIn`: how many reads it made, and why it refused (undefined: it let the folder start). */
const checked = async (dir: string, standIn: StandIn): Promise<{ reads: number; refused: string | undefined }> => {
  const readsBefore = standIn.calls.filter((c) => c === 'Read').length;
  let refused: string | undefined;
  try {
    await refuseEmptyEventStoreForAServedFolder(dir, standIn.connectionString, 'store');
  } catch (error) {
    const issues = (error as { problem?: { issues?: { path: string; rule: string }[] } }).problem?.issues ?? [];
    refused = `${issues.map((i) => `${i.path} ${i.rule}`).join(' ')}: ${(error as Error).message}`;
  }
  return { reads: standIn.calls.filter((c) => c === 'Read').length - readsBefore, refused };
};

describe("a served folder started on an EventStoreDB shared with busy other applications", () => {
  it('holding its log: is let through after a bounded read, and starts', async () => {
    const data = scratch();
    await servedFolderWith(data, ['meter-1'], shared.connectionString);
    othersRecords(shared, OTHERS);

    const { reads, refused } = await checked(data, shared);

    expect(refused).toBeUndefined();
    expect(reads).toBeLessThanOrEqual(BOUNDED_READS);
    await (await startTestService({ dir: data, config: { store: shared.connectionString } })).close();
  }, 120_000);

  it("holding only other applications' records: is refused after a bounded read, naming the position of its log it looked at", async () => {
    const data = scratch();
    await servedFolderWith(data, ['meter-2'], shared.connectionString);
    othersRecords(another, OTHERS);

    const { reads, refused } = await checked(data, another);

    expect(refused).toMatch(/^store event_store_empty:/);
    expect(refused).toMatch(/holds no record of this folder's log \(the newest event it logged at position \d+/);
    expect(refused).toMatch(/transparency\.db has logged \d+ events/);
    expect(refused).not.toContain(another.connectionString);
    expect(reads).toBeLessThanOrEqual(BOUNDED_READS);
  }, 120_000);

  it("holding another fleet's log behind other applications' records: is refused after a bounded read, as holding none of this folder's", async () => {
    const data = scratch();
    await servedFolderWith(data, ['meter-3'], shared.connectionString);
    const fleet = await startTestService({ dir: scratch(), config: { store: another.connectionString } });
    try {
      for (let i = 0; i < 3; i++) await fleet.service.context.credence.engine.execute(cmd.registerNode(`other-meter-${i}`));
    } finally {
      await fleet.close();
    }
    othersRecords(another, OTHERS);

    const { reads, refused } = await checked(data, another);

    expect(refused).toMatch(/^store event_store_empty:/);
    expect(refused).toMatch(/holds no record of this folder's log \(the newest event it logged at position \d+/);
    expect(reads).toBeLessThanOrEqual(BOUNDED_READS);
  }, 120_000);

  it('served on its embedded store, its log and read models gone: holds no position to look at, and is refused after one read', async () => {
    const data = scratch();
    await servedFolderWith(data, ['meter-4']);
    for (const name of readdirSync(data).filter((n) => /^(transparency|readmodels)\./.test(n))) rmSync(join(data, name), { force: true });
    othersRecords(another, OTHERS);

    const { reads, refused } = await checked(data, another);

    expect(refused).toMatch(/^store event_store_empty:/);
    expect(refused).toMatch(/holds no record of Credence's among its newest \d+ records, but/);
    expect(refused).toMatch(/first-event\.json remembers/);
    expect(refused).toMatch(/does not move an embedded log to EventStoreDB/);
    expect(reads).toBe(1);
  }, 120_000);
});
