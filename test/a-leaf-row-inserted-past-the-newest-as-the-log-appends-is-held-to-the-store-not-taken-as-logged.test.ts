import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { openTransparencyLogInDir, type SqliteTransparencyLog } from '../adapters/driven/transparency/index.ts';
import type { EventStore } from '../domain/ports/index.ts';
import { TransparencyProjection } from '../projections/transparency/index.ts';
import { insertPastNewest, leavesOf, type LeafRow } from './support/transparency-leaf-rows.ts';
import { ORIGIN, appendEvents, fixedSigner } from './transparency-fixtures.ts';

/*
 * Review 418's follow-up (fix 1066): once the log's size() counted the file's rows (another process's unsigned leaves
 * are signed and proved), the newest leaf the live log vouches for was taken at that count. A row another process
 * (sqlite3 on transparency.db) inserted between this connection's append commit and that read, or while the first
 * catch-up indexed a legacy log, was taken as logged by this process, never held to the event store (review 268): the
 * store's next event at its position was passed over as logged, and the next checkpoint signed the forged leaf.
 */

const dirs: string[] = [];
const opened: { store: EventStore; log: SqliteTransparencyLog }[] = [];
afterEach(async () => {
  for (const o of opened.splice(0)) {
    o.log.close();
    await o.store.close();
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const logOnFolder = () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-inserted-as-appended-'));
  dirs.push(dir);
  const store = openSqliteStoreInDir(dir, { pollIntervalMs: 5 });
  const log = openTransparencyLogInDir(dir);
  opened.push({ store, log });
  const clock = new FakeClock('2026-03-01T12:00:00.000Z');
  const projection = new TransparencyProjection({ store, log, signer: fixedSigner(), origin: ORIGIN, now: () => clock.now(), checkpointEveryMs: 0, batchSize: 4 });
  return { dir, store, log, projection };
};

it('holds a row inserted by another connection right after its append commits to the store: refused, not signed, the next event not passed over', async () => {
  const { dir, store, log, projection } = logOnFolder();
  await appendEvents(store, 3);
  expect(await projection.catchUp()).toBe(3);
  // The next append commits, and before the log takes its newest leaf another connection inserts a row past it: at an
  // even leaf index, so that the tree's edge needs no subtree hash the row would complete.
  let inserted: LeafRow | undefined;
  const append = log.append.bind(log);
  log.append = (leaves) => {
    const committed = append(leaves);
    if (inserted === undefined && leaves.length > 0) inserted = insertPastNewest(dir);
    return committed;
  };
  await appendEvents(store, 1, 3);
  expect(await projection.catchUp()).toBe(1);
  expect(inserted).toBeDefined();
  expect(leavesOf(dir).map((r) => r.position)).toEqual([1, 2, 3, 4, 5]);

  // Not vouched for: the key signs nothing over it.
  await expect(projection.checkpoint()).rejects.toMatchObject({ code: 'transparency_log_altered' });
  expect(log.latestCheckpoint()).toBeUndefined();
  expect(projection.refusesToSign?.message).toContain(inserted!.event_id);
  // The store's event at its position is not passed over as logged: the log stops there, said.
  await appendEvents(store, 1, 4);
  await expect(projection.catchUp()).rejects.toMatchObject({ code: 'transparency_log_altered' });
  expect(projection.position).toBe(4n);
  expect(leavesOf(dir).map((r) => r.event_id)).toContain(inserted!.event_id);
});

it('holds a row inserted by another connection while its first catch-up indexes the log to the store before it resumes', async () => {
  const { dir, store, log, projection } = logOnFolder();
  await appendEvents(store, 4);
  // Logged by an earlier process on the folder.
  const earlier = openTransparencyLogInDir(dir);
  try {
    const clock = new FakeClock('2026-03-01T12:00:00.000Z');
    await new TransparencyProjection({ store, log: earlier, signer: fixedSigner(), origin: ORIGIN, now: () => clock.now(), checkpointEveryMs: 0 }).catchUp();
  } finally {
    earlier.close();
  }
  expect(leavesOf(dir).map((r) => r.position)).toEqual([1, 2, 3, 4]);
  let inserted: LeafRow | undefined;
  const firstUnindexedLeaf = log.firstUnindexedLeaf.bind(log);
  log.firstUnindexedLeaf = () => {
    const found = firstUnindexedLeaf();
    inserted ??= insertPastNewest(dir);
    return found;
  };
  await expect(projection.catchUp()).rejects.toMatchObject({ code: 'transparency_log_altered' });
  expect(inserted).toBeDefined();
  expect(projection.refusesToSign?.message).toContain(inserted!.event_id);
  // Not resumed past it, as if the store's next event were logged.
  expect(projection.position).toBe(4n);
  await expect(projection.checkpoint()).rejects.toMatchObject({ code: 'transparency_log_altered' });
  expect(log.latestCheckpoint()).toBeUndefined();
});

it('signs the leaves it held to the store, not a row inserted by another connection between that hold and the signature', async () => {
  const { dir, store, log, projection } = logOnFolder();
  await appendEvents(store, 4);
  expect(await projection.catchUp()).toBe(4);
  // The signature reads the latest checkpoint after the newest row was held to the store: a row inserted then.
  let inserted: LeafRow | undefined;
  const latestCheckpoint = log.latestCheckpoint.bind(log);
  log.latestCheckpoint = () => {
    inserted ??= insertPastNewest(dir);
    return latestCheckpoint();
  };
  const signed = await projection.checkpoint();
  expect(inserted).toBeDefined();
  expect(leavesOf(dir)).toHaveLength(5);
  expect(signed.treeSize).toBe(4);
  expect(log.latestCheckpoint()?.treeSize).toBe(4);
  // The row is held to the store before anything more is signed or logged: refused, said.
  await expect(projection.checkpoint()).rejects.toMatchObject({ code: 'transparency_log_altered' });
  expect(log.latestCheckpoint()?.treeSize).toBe(4);
});
