import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { openTransparencyLogInDir, type SqliteTransparencyLog } from '../adapters/driven/transparency/index.ts';
import type { EventStore } from '../domain/ports/index.ts';
import { eventLeafHash } from '../domain/transparency/leaf.ts';
import { TransparencyProjection } from '../projections/transparency/index.ts';
import { ORIGIN, appendEvents, fixedSigner, readAllEvents } from './transparency-fixtures.ts';

/*
 * Review 424 (fix 1068): once leaves another process logged without signing were counted and signed (a5fe7a21), only
 * the file's newest row was held to the event store. A second connection appending a forged row (an event id and leaf
 * hash no stored event has) under a genuine copy of the store's next event had the forged leaf signed with no new event:
 * every row another process appended past the leaf this process vouches for is held to the store, and a stored event of
 * Credence's between them missing from the log refuses too.
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

const logOnFolder = (batchSize = 4) => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-forged-under-newest-'));
  dirs.push(dir);
  const store = openSqliteStoreInDir(dir, { pollIntervalMs: 5 });
  const log = openTransparencyLogInDir(dir);
  opened.push({ store, log });
  const clock = new FakeClock('2026-03-01T12:00:00.000Z');
  const projection = new TransparencyProjection({ store, log, signer: fixedSigner(), origin: ORIGIN, now: () => clock.now(), checkpointEveryMs: 0, batchSize });
  const second = () => {
    const other = openTransparencyLogInDir(dir);
    opened.push({ store, log: other });
    return other;
  };
  return { dir, store, log, projection, second };
};

it('refuses to sign a forged row appended by another connection under a genuine copy of the next stored event', async () => {
  const { store, log, projection, second } = logOnFolder();
  await appendEvents(store, 3);
  expect(await projection.catchUp()).toBe(3);
  expect((await projection.checkpoint()).treeSize).toBe(3);
  await appendEvents(store, 2, 3);
  const [, , , e4, e5] = await readAllEvents(store);
  const other = second();
  other.append([
    // Leaf 3 at e4's position: an event id and a leaf hash no stored event has.
    { position: e4!.position, eventId: randomUUID(), leafHash: randomBytes(32), stream: { streamId: e4!.streamId, revision: e4!.revision } },
    // Leaf 4: a genuine copy of the store's event at its position.
    { position: e5!.position, eventId: e5!.id, leafHash: eventLeafHash(e5!), stream: { streamId: e5!.streamId, revision: e5!.revision } },
  ]);
  expect(log.size()).toBe(5);

  await expect(projection.checkpoint()).rejects.toMatchObject({ code: 'transparency_log_altered', message: expect.stringMatching(/leaf 3\b/) });
  expect(log.latestCheckpoint()!.treeSize).toBe(3);
  expect(projection.refusesToSign).toMatchObject({ code: 'transparency_log_altered' });
  // The live feed, handed the genuine records, does not take the newest row over the forged one either.
  await expect(projection.ingestHeld([e4!, e5!])).rejects.toMatchObject({ code: 'transparency_log_altered' });
  await expect(projection.catchUp()).rejects.toMatchObject({ code: 'transparency_log_altered' });
  expect(log.latestCheckpoint()!.treeSize).toBe(3);
});

it('refuses to sign rows another connection appended past a stored event of Credence it left out', async () => {
  const { store, log, projection, second } = logOnFolder();
  await appendEvents(store, 3);
  expect(await projection.catchUp()).toBe(3);
  expect((await projection.checkpoint()).treeSize).toBe(3);
  await appendEvents(store, 3, 3);
  const [, , , e4, e5, e6] = await readAllEvents(store);
  const leafOf = (e: typeof e4) => ({ position: e!.position, eventId: e!.id, leafHash: eventLeafHash(e!), stream: { streamId: e!.streamId, revision: e!.revision } });
  // Genuine copies of the 4th and 6th events, the 5th left out of the log.
  second().append([leafOf(e4), leafOf(e6)]);
  expect(e5).toBeDefined();

  await expect(projection.checkpoint()).rejects.toMatchObject({ code: 'transparency_log_altered' });
  expect(log.latestCheckpoint()!.treeSize).toBe(3);
});

it('signs several genuine leaves another log process appended without signing, read in pages', async () => {
  const { store, log, projection, second } = logOnFolder(2);
  await appendEvents(store, 3);
  expect(await projection.catchUp()).toBe(3);
  expect((await projection.checkpoint()).treeSize).toBe(3);
  // An export killed between its catch-up and its signature: five leaves logged on its own connection, none signed.
  await appendEvents(store, 5, 3);
  const exporter = new TransparencyProjection({ store, log: second(), signer: fixedSigner(), origin: ORIGIN, now: () => new Date(), checkpointEveryMs: 0, batchSize: 2 });
  expect(await exporter.catchUp()).toBe(5);
  expect(log.size()).toBe(8);
  expect(log.latestCheckpoint()!.treeSize).toBe(3);

  const signed = await projection.checkpoint();
  expect(signed.treeSize).toBe(8);
  expect(projection.refusesToSign).toBeUndefined();
  await appendEvents(store, 1, 8);
  expect(await projection.catchUp()).toBe(1);
  expect((await projection.checkpoint()).treeSize).toBe(9);
});

it('refuses the forged row from a run of the store records at hand too (the synchronous ingest), not taking the genuine newest', async () => {
  const { store, log, projection, second } = logOnFolder();
  await appendEvents(store, 3);
  expect(await projection.catchUp()).toBe(3);
  expect((await projection.checkpoint()).treeSize).toBe(3);
  await appendEvents(store, 2, 3);
  const all = await readAllEvents(store);
  const [, , , e4, e5] = all;
  second().append([
    { position: e4!.position, eventId: randomUUID(), leafHash: randomBytes(32), stream: { streamId: e4!.streamId, revision: e4!.revision } },
    { position: e5!.position, eventId: e5!.id, leafHash: eventLeafHash(e5!), stream: { streamId: e5!.streamId, revision: e5!.revision } },
  ]);
  expect(() => projection.ingest(all)).toThrow(expect.objectContaining({ code: 'transparency_log_altered', message: expect.stringMatching(/leaf 3\b/) }));
  // Records that do not start at the known leaf's vouch for nothing under the newest row: held to the store instead.
  expect(() => projection.ingest([e5!])).toThrow(expect.objectContaining({ name: 'NewerLeafUnchecked' }));
  await expect(projection.checkpoint()).rejects.toMatchObject({ code: 'transparency_log_altered' });
  expect(log.latestCheckpoint()!.treeSize).toBe(3);
});
