import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { CheckpointFile } from '../adapters/driven/replay-checkpoint/checkpoint-file.ts';
import { verifyFleet } from '../adapters/replay-workers/verify-fleet.ts';
import { replayAll } from '../projections/replay/index.ts';
import { CommandIds } from '../projections/replay/command-ids.ts';
import { dataDirs } from './replay.fixtures.ts';
import { cmd, establishOne, fixture } from './support/fleet.ts';

/*
 * Issue 15 item 4: re-verifying after new events should cost only the new events, yet every run parsed, checked and
 * wrote again each entity of the checkpoint. An entity's line is now read up front only as far as its stream, kind, id
 * and state; the rest (its context) is parsed and checked when an event first needs the entity, and an entity no
 * event needed is written back as the line it was read from. A line whose rest is not what a checkpoint holds is
 * never trusted into a verdict: nothing reads it while no event needs it (the verdict is a full run's), and the run
 * whose event needs it verifies in full, says why, and moves the file aside, as for a checkpoint refused when read.
 */
describe('a replay checkpoint entity line', () => {
  const dataDir = dataDirs('credence-replay-entity-line-');

  const lineOf = (path: string, streamId: string): number =>
    readFileSync(path, 'utf8').split('\n').findIndex((line) => line.startsWith(`[${JSON.stringify(streamId)},`));
  const editLine = (path: string, at: number, edit: (line: string) => string): string => {
    const lines = readFileSync(path, 'utf8').split('\n');
    lines[at] = edit(lines[at]!);
    writeFileSync(path, lines.join('\n'));
    return lines[at]!;
  };

  /** A fleet of one established node and one registered, verified in full once, its checkpoint written, for `run`. */
  const withCheckpointedFleet = async (
    run: (fleet: { dir: string; store: ReturnType<typeof openSqliteStoreInDir>; engine: ReturnType<typeof fixture>['engine']; checkpoint: CheckpointFile; first: Awaited<ReturnType<typeof verifyFleet>> }) => Promise<void>,
  ): Promise<void> => {
    const dir = dataDir();
    const store = openSqliteStoreInDir(dir);
    try {
      const { engine } = fixture(store);
      await establishOne(engine);
      await engine.execute(cmd.registerNode('meter-2'));
      const checkpoint = new CheckpointFile(dir);
      await run({ dir, store, engine, checkpoint, first: await verifyFleet(store, { checkpoint }) });
    } finally {
      await store.close();
    }
  };

  it('no event needs is written back as it was read, and one whose context is not a checkpoint\'s is never trusted into a verdict', async () => {
    await withCheckpointedFleet(async ({ dir, store, engine, checkpoint, first }) => {
      expect(first).toMatchObject({ mode: 'full', replay: { findings: [] } });

      // Spelt otherwise than a write spells it (spaces), and its context no JSON object: read only when needed.
      const at = lineOf(checkpoint.path, 'node-meter-2');
      expect(at).toBeGreaterThan(0);
      const edited = editLine(checkpoint.path, at, (line) => {
        const [streamId, kind, id, value, , ...rest] = JSON.parse(line) as unknown[];
        return `[ ${[streamId, kind, id, value, ['not', 'a', 'context'], ...rest].map((v) => JSON.stringify(v)).join(' , ')} ]`;
      });

      // An event that needs no other entity: going on from the checkpoint, the line is written back as it was.
      await engine.execute(cmd.registerNode('meter-3'));
      const untouched = await verifyFleet(store, { checkpoint });
      expect(untouched).toMatchObject({ mode: 'incremental', verifiedNow: 1, notes: [] });
      expect(untouched.replay).toEqual(await replayAll(store));
      expect(readFileSync(checkpoint.path, 'utf8').split('\n')[at]).toBe(edited);

      // An event of that entity: verified in full, as a checkpoint refused when read is, and the file moved aside.
      const before = readFileSync(checkpoint.path, 'utf8');
      await engine.execute(cmd.enrolNode('meter-2'));
      const touched = await verifyFleet(store, { checkpoint });
      expect(touched.mode).toBe('full');
      expect(touched.altered).toBeUndefined();
      expect(touched.notes).toEqual([
        `checkpoint ignored: ${checkpoint.path}: entities.${at - 1}.4: must be a JSON object`,
        expect.stringContaining(`${checkpoint.path} could not be read: moved to ${checkpoint.asidePath}`),
      ]);
      expect(touched.replay).toEqual(await replayAll(store));
      expect(existsSync(checkpoint.asidePath)).toBe(true);
      expect(readFileSync(checkpoint.asidePath, 'utf8')).toBe(before);
      // The checkpoint written in its place is gone on from.
      expect(await verifyFleet(store, { checkpoint: new CheckpointFile(dir) })).toMatchObject({ mode: 'incremental', verifiedNow: 0, notes: [] });
    });
  }, 60_000);

  it('read from a file, then given other entities, is saved with those entities, not the lines it was read from', async () => {
    await withCheckpointedFleet(async ({ dir, checkpoint }) => {
      const loaded = checkpoint.load();
      if (loaded?.ok !== true) throw new Error('the checkpoint just written did not load');
      const all = loaded.checkpoint.entities;
      expect(all.length).toBeGreaterThan(1);
      loaded.checkpoint.entities = all.slice(0, 1);
      checkpoint.save(loaded.checkpoint);
      const again = new CheckpointFile(dir).load();
      if (again?.ok !== true) throw new Error('the checkpoint saved did not load');
      expect(again.checkpoint.entities).toEqual(all.slice(0, 1));
    });
  }, 60_000);
});

describe('a replay checkpoint\'s command ids', () => {
  const digest = (n: number): string => {
    const b: number[] = [];
    // Distinct for every n below 2^24, and spread over every shard (the last byte varies).
    for (let i = 0; i < 16; i++) b.push(((n >>> ((i % 3) * 8)) & 0xff) ^ ((i * 17) & 0xff));
    return String.fromCharCode(...b);
  };

  it('are written back as the chunks they were read from, only the ids taken since in a new last chunk', () => {
    const ids = new CommandIds();
    const count = 65_536 + 1_000;
    for (let n = 0; n < count; n++) expect(ids.takeDigest(digest(n))).toBe(false);
    const chunks = ids.toChunks();
    expect(chunks).toHaveLength(2);

    const read = CommandIds.fromChunks(chunks);
    expect(read.size).toBe(count);
    for (let n = count; n < count + 500; n++) expect(read.takeDigest(digest(n))).toBe(false);
    expect(read.takeDigest(digest(7))).toBe(true);
    const again = read.toChunks();
    // The whole chunk as it was; the last one, not whole, merged with the ids taken since (never one more chunk a run).
    expect(again).toHaveLength(2);
    expect(again[0]).toBe(chunks[0]);
    const back = CommandIds.fromChunks(again);
    expect(back.size).toBe(count + 500);
    for (let n = 0; n < count + 500; n += 97) expect(back.takeDigest(digest(n))).toBe(true);
  });
});
