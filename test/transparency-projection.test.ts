import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore, openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { type EventStore } from '../domain/ports/index.ts';
import { openTransparencyLog, openTransparencyLogInDir, type SqliteTransparencyLog } from '../adapters/driven/transparency/index.ts';
import { eventLeafHash, verifyConsistency, verifyEventInclusion, verifyExportedLog } from '../domain/transparency/index.ts';
import { TransparencyProjection } from '../projections/transparency/index.ts';
import { ORIGIN, appendEvents, fixedSigner, keyOf, readAllEvents, tempDirs } from './transparency-fixtures.ts';

const dirs = tempDirs();
const open: { store?: EventStore; log?: SqliteTransparencyLog; projection?: TransparencyProjection }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) {
    await o.projection?.stop();
    await o.store?.close();
    o.log?.close();
  }
  vi.useRealTimers();
  dirs.cleanup();
});

const setup = (options: { everyLeaves?: number; everyMs?: number; clock?: FakeClock; store?: EventStore; log?: SqliteTransparencyLog } = {}) => {
  const store = options.store ?? openSqliteStore({ memory: true, pollIntervalMs: 5 });
  const log = options.log ?? openTransparencyLog({ memory: true });
  const clock = options.clock ?? new FakeClock('2026-03-01T12:00:00.000Z');
  const signer = fixedSigner();
  const projection = new TransparencyProjection({
    store,
    log,
    signer,
    origin: ORIGIN,
    now: () => clock.now(),
    checkpointEveryLeaves: options.everyLeaves ?? 1000,
    checkpointEveryMs: options.everyMs ?? 0,
    batchSize: 4,
  });
  open.push({ store, log, projection });
  return { store, log, clock, signer, projection };
};

describe('transparency projection', () => {
  it('logs every stored event, in global order, as the hash of its canonical envelope', async () => {
    const { store, log, projection } = setup();
    await appendEvents(store, 10);
    expect(await projection.catchUp()).toBe(10);
    const events = await readAllEvents(store);
    const leaves = [...log.leaves()];
    expect(leaves.map((l) => l.position)).toEqual(events.map((e) => e.position));
    expect(leaves.map((l) => l.eventId)).toEqual(events.map((e) => e.id));
    leaves.forEach((leaf, i) => expect(leaf.leafHash).toEqual(eventLeafHash(events[i]!)));
    expect(await projection.lag()).toBe(0n);
  });

  it('follows the store live after catching up, and never logs an event twice', async () => {
    const { store, log, projection } = setup();
    await appendEvents(store, 3);
    await projection.start();
    await appendEvents(store, 6, 3);
    await projection.waitFor((await store.headPosition())!);
    expect(log.size()).toBe(9);
    expect(projection.ingest(await readAllEvents(store))).toBe(0);
    expect(log.size()).toBe(9);
  });

  it('resumes from its own log after a restart', async () => {
    const dir = dirs.make();
    const store = openSqliteStoreInDir(dir, { pollIntervalMs: 5 });
    const first = setup({ store, log: openTransparencyLogInDir(dir) });
    await appendEvents(store, 5);
    await first.projection.catchUp();
    first.log.close();
    await appendEvents(store, 4, 5);
    const log = openTransparencyLogInDir(dir);
    const second = setup({ store, log });
    expect(await second.projection.lag()).toBe(4n);
    expect(await second.projection.catchUp()).toBe(4);
    const events = await readAllEvents(store);
    const checkpoint = await second.projection.checkpoint();
    expect(verifyExportedLog(events, checkpoint.note, keyOf(second.signer))).toMatchObject({ ok: true, verified: 9 });
  });

  it('signs a checkpoint once the configured number of leaves has accumulated', async () => {
    const { store, log, projection } = setup({ everyLeaves: 4 });
    await appendEvents(store, 3);
    await projection.catchUp();
    await projection.checkpoint(); // settles pending signatures; signs the 3 leaves on demand
    expect(log.latestCheckpoint()?.treeSize).toBe(3);
    await appendEvents(store, 4, 3);
    await projection.catchUp();
    await vi.waitFor(() => expect(log.latestCheckpoint()?.treeSize).toBe(7));
  });

  it('signs a checkpoint of new leaves every T seconds, with the time of the injected clock', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const clock = new FakeClock('2026-03-01T12:00:00.000Z');
    const { store, log, projection } = setup({ everyMs: 30_000, clock });
    await appendEvents(store, 2);
    await projection.start();
    // The first leaves are signed at once (review 93), the leaves after them on the timer.
    await projection.firstCheckpoint();
    expect(log.latestCheckpoint()).toMatchObject({ treeSize: 2, time: '2026-03-01T12:00:00.000Z' });
    await appendEvents(store, 1, 2);
    await vi.waitFor(() => expect(log.size()).toBe(3));
    expect(log.latestCheckpoint()?.treeSize).toBe(2);
    clock.advance(30_000);
    await vi.advanceTimersByTimeAsync(30_000);
    await vi.waitFor(() => expect(log.latestCheckpoint()?.treeSize).toBe(3));
    expect(log.latestCheckpoint()?.time).toBe('2026-03-01T12:00:30.000Z');
    // Nothing new: the timer signs nothing.
    clock.advance(30_000);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(log.latestCheckpoint()?.time).toBe('2026-03-01T12:00:30.000Z');
  });

  it('signs on demand a checkpoint that verifies under the log key and proves each event', async () => {
    const { store, projection, signer, log } = setup();
    await appendEvents(store, 6);
    await projection.catchUp();
    const checkpoint = await projection.checkpoint();
    expect(checkpoint.note.startsWith(`${ORIGIN}\n6\n`)).toBe(true);
    expect(checkpoint.note).toContain('\ntime 2026-03-01T12:00:00.000Z\n\n— credence.test/log ');
    const events = await readAllEvents(store);
    for (const [leafIndex, event] of events.entries()) {
      const proof = { leafIndex, treeSize: 6, hashes: log.inclusionProof(leafIndex, 6) };
      expect(verifyEventInclusion({ event, proof, checkpointNote: checkpoint.note, logPublicKey: keyOf(signer) })).toMatchObject({ ok: true });
    }
    expect(await projection.checkpoint()).toEqual(checkpoint);
  });

  it('only ever signs checkpoints that are consistent with every earlier one', async () => {
    const { store, projection, signer, log } = setup();
    const notes: string[] = [];
    for (const n of [1, 2, 5, 8]) {
      await appendEvents(store, n, (await readAllEvents(store)).length);
      await projection.catchUp();
      notes.push((await projection.checkpoint()).note);
    }
    const sizes = [1, 3, 8, 16];
    for (let a = 0; a < notes.length; a++) {
      for (let b = a + 1; b < notes.length; b++) {
        const proof = { first: sizes[a]!, second: sizes[b]!, hashes: log.consistencyProof(sizes[a]!, sizes[b]!) };
        expect(verifyConsistency(notes[a]!, notes[b]!, proof, keyOf(signer))).toMatchObject({ ok: true });
      }
    }
  });
});
