import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CheckpointFile } from '../adapters/driven/replay-checkpoint/checkpoint-file.ts';
import { verifyFleet } from '../adapters/replay-workers/verify-fleet.ts';
import { main } from '../bin/cli.ts';
import type { Io } from '../bin/io.ts';
import type { ReplayCheckpoint } from '../projections/replay/checkpoint.ts';
import { capture } from './support/cli.ts';
import { verifiedOnceWithNodesAfter } from './support/replay-checkpoint-folder.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Two `credence replay` runs each read replay-checkpoint.json when they started and wrote theirs when done, with
 * nothing between: the run that started first, written last, replaced the newer checkpoint of the other; and a
 * checkpoint removed while a run verified (README, restoring events.db, step 3) came back, the old history's, so that
 * every later run reported the restored store as altered. A run now writes its checkpoint, under the folder's lock,
 * only over the file it read.
 */
describe('credence replay and a checkpoint changed while it verified', () => {
  const folder = temporaryFolders('credence-replay-checkpoint-meanwhile-');

  /** A folder with a checkpoint of its first events and two events after it; another run's checkpoint of them all. */
  const twoRuns = async () => {
    const dir = join(folder(), 'data');
    // What another run, started after this one read the file, saves first: the checkpoint of every event.
    const file = new CheckpointFile(dir);
    let theirs: ReplayCheckpoint | undefined;
    await verifiedOnceWithNodesAfter(dir, ['meter-2', 'meter-3'], (store) =>
      verifyFleet(store, { checkpoint: { path: file.path, load: () => file.load(), save: (c) => void (theirs = c) } }),
    );
    return { dir, path: file.path, theirs: theirs! };
  };

  /** The CLI's Io, `meanwhile` run once the run has read the checkpoint and before it saves (its progress bar's first draw). */
  const verifyingWhile = (meanwhile: () => void): { io: Io; err: string[]; out: string[] } => {
    const c = capture();
    let done = false;
    const progress = { write: () => (done ? true : ((done = true), meanwhile(), true)) } as unknown as NodeJS.WriteStream;
    return { ...c, io: { ...c.io, progress } };
  };

  it("keeps a checkpoint another run wrote after this one read the file: this run's is not written over it", async () => {
    const { dir, path, theirs } = await twoRuns();
    let written: { ino: number; text: string } | undefined;
    const run = verifyingWhile(() => {
      new CheckpointFile(dir).save(theirs);
      written = { ino: statSync(path).ino, text: readFileSync(path, 'utf8') };
    });

    expect(await main(['replay', '--data', dir], run.io)).toBe(0);
    expect(run.out).toContain('verdict: every stored transition is legal');
    expect(written).toBeDefined();
    expect(statSync(path).ino).toBe(written!.ino);
    expect(readFileSync(path, 'utf8')).toBe(written!.text);
    expect(run.err.join('\n')).toMatch(/the replay checkpoint is not saved: .*replay-checkpoint\.json was replaced or removed by another process since this run read it; that one is kept/);
    // The next run goes on from the kept one.
    const next = capture();
    expect(await main(['replay', '--data', dir], next.io)).toBe(0);
    expect(next.out[0]).toMatch(/\(0 new after the checkpoint at position \d+;/);
  }, 60_000);

  it('does not bring back a checkpoint removed while it verified', async () => {
    const { dir, path } = await twoRuns();
    const run = verifyingWhile(() => rmSync(path));

    expect(await main(['replay', '--data', dir], run.io)).toBe(0);
    expect(existsSync(path)).toBe(false);
    expect(run.err.join('\n')).toMatch(/the replay checkpoint is not saved: .*replaced or removed by another process/);
  }, 60_000);

  it('does not write over a checkpoint another run wrote where there was none when it read', async () => {
    const { dir, path, theirs } = await twoRuns();
    rmSync(path);
    let text: string | undefined;
    const run = verifyingWhile(() => {
      new CheckpointFile(dir).save(theirs);
      text = readFileSync(path, 'utf8');
    });

    expect(await main(['replay', '--data', dir], run.io)).toBe(0);
    expect(readFileSync(path, 'utf8')).toBe(text);
    expect(run.err.join('\n')).toMatch(/replay-checkpoint\.json was written by another process since this run read it; that one is kept/);
  }, 60_000);
});
