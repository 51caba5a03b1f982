import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { openTransparencyLogInDir, type SqliteTransparencyLog } from '../adapters/driven/transparency/index.ts';
import type { EventStore } from '../domain/ports/index.ts';
import { TransparencyProjection } from '../projections/transparency/index.ts';
import { ORIGIN, appendEvents, fixedSigner, readAllEvents } from './transparency-fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';
import { insertPastNewest, leavesOf, withLog } from './support/transparency-leaf-rows.ts';

/*
 * Review 268: the live log held the newest leaf it logged to its row, but counted the file's leaves in memory, so a row
 * inserted by another process (sqlite3 on transparency.db) past the newest logged one was never looked at: its
 * position was taken as logged, the next command acknowledged with its events passed over, /readyz ready. Only
 * `credence verify --data` found it afterwards. The file's newest row is read at each check, and a newer one stands
 * only as a log writes it: the event the store holds at its position.
 */

const dirs: string[] = [];
let svc: TestService | undefined;
const opened: { store: EventStore; logs: SqliteTransparencyLog[] }[] = [];
afterEach(async () => {
  await svc?.close();
  svc = undefined;
  for (const o of opened.splice(0)) {
    for (const log of o.logs) log.close();
    await o.store.close();
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-inserted-leaf-'));
  dirs.push(dir);
  return dir;
};

const registerNode = async (s: TestService, nodeId: string) =>
  (
    await fetch(`${s.url}/v1/commands`, {
      method: 'POST',
      headers: { authorization: `Bearer ${s.tokens.operator}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'registerNode', data: { nodeId, profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: ['metering'] } } }),
    })
  ).status;

const removeRow = (dir: string, leafIndex: number): void =>
  withLog(dir, false, (db) => {
    db.prepare('DELETE FROM leaves WHERE leaf_index = ?').run(leafIndex);
  });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const readyz = async (s: TestService) => {
  const reply = await fetch(`${s.url}/readyz`);
  return { status: reply.status, body: (await reply.json()) as Record<string, unknown> };
};

for (const [where, ahead] of [['far ahead', 1_000_000], ['at the next position', 1]] as const) {
  it(`stops logging once a row no log wrote is inserted past its newest leaf (${where}): the next command's events are not passed over as logged, not ready, and goes on once the row is removed`, async () => {
    const dir = tempDir();
    svc = await startTestService({ dir });
    expect(await registerNode(svc, 'meter-1')).toBe(201);
    expect(await registerNode(svc, 'meter-2')).toBe(201);
    const before = leavesOf(dir);
    const inserted = insertPastNewest(dir, ahead);

    // The command is answered from the store; its events are neither logged over the inserted row nor passed over.
    expect(await registerNode(svc, 'meter-3')).toBe(201);
    await sleep(1500);
    expect(leavesOf(dir)).toEqual([...before, inserted]);
    const ready = await readyz(svc);
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ check: 'transparency_log_altered' });
    const unlogged = await svc.service.context.credence.store.headPosition();
    const proof = await fetch(`${svc.url}/v1/transparency/proofs/inclusion?position=${unlogged}`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    const problem = (await proof.json()) as Record<string, unknown>;
    expect([proof.status, problem['type']]).toEqual([503, expect.stringContaining('transparency_log_altered')]);
    expect(JSON.stringify(problem)).not.toContain(inserted.event_id);

    // The row removed: the log goes on from its newest leaf, each event once.
    removeRow(dir, inserted.leaf_index);
    const head = await svc.service.context.credence.store.headPosition();
    for (let i = 0; i < 50 && BigInt(leavesOf(dir).at(-1)!.position) < head!; i++) await sleep(100);
    const after = leavesOf(dir);
    expect(after.map((r) => r.position)).toEqual(after.map((_, i) => i + 1));
    expect(BigInt(after.at(-1)!.position)).toBe(head);
    expect(after.map((r) => r.event_id)).not.toContain(inserted.event_id);
    expect((await readyz(svc)).status).toBe(200);
  }, 60_000);
}

/** Two logs on one folder's transparency.db, as the service and an export are: each its own connection. */
const twoLogsOnOneFolder = () => {
  const dir = tempDir();
  const store = openSqliteStoreInDir(dir, { pollIntervalMs: 5 });
  const logs = [openTransparencyLogInDir(dir), openTransparencyLogInDir(dir)];
  opened.push({ store, logs });
  const clock = new FakeClock('2026-03-01T12:00:00.000Z');
  const [first, second] = logs.map(
    (log) => new TransparencyProjection({ store, log, signer: fixedSigner(), origin: ORIGIN, now: () => clock.now(), checkpointEveryMs: 0, batchSize: 4 }),
  );
  return { dir, store, first: first!, second: second! };
};

it('goes on over newer leaves another log on the folder appended in store order: they are the store events at their positions', async () => {
  const { dir, store, first, second } = twoLogsOnOneFolder();
  await appendEvents(store, 3);
  expect(await first.catchUp()).toBe(3);
  await appendEvents(store, 3, 3);
  // Another process's log (an export) logs the events this one has not yet.
  expect(await second.catchUp()).toBe(3);
  await appendEvents(store, 3, 6);
  expect(await first.catchUp()).toBe(3);
  expect(first.refusesToSign).toBeUndefined();
  expect(leavesOf(dir).map((r) => r.position)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  // Handed records that hold the other log's newest (the live runtime's feed), without a read of the store.
  await appendEvents(store, 2, 9);
  expect(await second.catchUp()).toBe(2);
  await appendEvents(store, 2, 11);
  expect(first.ingest(await readAllEvents(store))).toBe(2);
  expect(first.refusesToSign).toBeUndefined();
  // And while it follows the store live.
  await first.start();
  await appendEvents(store, 2, 13);
  // Which of the two logs these first depends on the subscription's timing: either way each is logged once.
  await second.catchUp();
  await appendEvents(store, 2, 15);
  await first.waitFor((await store.headPosition())!);
  await sleep(50);
  expect(first.refusesToSign).toBeUndefined();
  expect(leavesOf(dir).map((r) => r.position)).toEqual(Array.from({ length: 17 }, (_, i) => i + 1));
  await first.stop();
});

it('refuses to log on over a newer leaf whose event is not the store event at its position, found by the next catch-up', async () => {
  const { dir, store, first } = twoLogsOnOneFolder();
  await appendEvents(store, 3);
  expect(await first.catchUp()).toBe(3);
  const inserted = insertPastNewest(dir, 1);
  await appendEvents(store, 3, 3);
  await expect(first.catchUp()).rejects.toMatchObject({ code: 'transparency_log_altered' });
  expect(first.refusesToSign?.message).toContain(inserted.event_id);
  expect(leavesOf(dir).map((r) => r.position)).toEqual([1, 2, 3, 4]);
  expect(first.position).toBe(3n);
  // The row removed, it logs on from its own newest leaf.
  removeRow(dir, inserted.leaf_index);
  expect(await first.catchUp()).toBe(3);
  expect(first.refusesToSign).toBeUndefined();
  expect(leavesOf(dir).map((r) => r.position)).toEqual([1, 2, 3, 4, 5, 6]);
});
