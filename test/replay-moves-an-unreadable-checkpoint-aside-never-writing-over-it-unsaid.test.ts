import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { verifiedOnceWithNodesAfter } from './support/replay-checkpoint-folder.ts';
import { temporaryFolders } from './support/temp-dirs.ts';
import { readCheckpointFileJson } from '../adapters/driven/replay-checkpoint/checkpoint-file.ts';

/*
 * Review 228, finding 3: a replay-checkpoint.json that does not parse (`{}` written into it, say, after an event
 * behind it was edited) was ignored with a note and written over by the run's new checkpoint, exit 0: the digest that
 * would have shown the edit was gone without a word, although an altered history is reported "until someone removes
 * the file". An unreadable checkpoint is now moved aside to replay-checkpoint.json.unreadable, the run saying so and
 * naming both files; one already there is never written over (the new checkpoint is then not saved).
 */
describe('credence replay over an unreadable checkpoint', () => {
  const folder = temporaryFolders('credence-replay-unreadable-');

  const verifiedOnce = async () => {
    const dir = join(folder(), 'data');
    await verifiedOnceWithNodesAfter(dir, ['meter-2']);
    return { dir, path: join(dir, 'replay-checkpoint.json'), aside: join(dir, 'replay-checkpoint.json.unreadable') };
  };

  it('moves it aside, naming both files, before saving the new checkpoint', async () => {
    const { dir, path, aside } = await verifiedOnce();
    writeFileSync(path, '{}');

    const text = capture();
    expect(await main(['replay', '--data', dir, '--full'], text.io)).toBe(0);
    const out = text.out.join('\n');
    expect(out).toMatch(/note: checkpoint ignored: .*replay-checkpoint\.json: /);
    expect(out).toContain(`note: ${path} could not be read: moved to ${aside}, which is kept (look at it, then remove it); the new checkpoint is written in its place`);
    expect(readFileSync(aside, 'utf8')).toBe('{}');
    expect(readCheckpointFileJson(path)).toMatchObject({ format: 2 });

    // The next run goes on from the new checkpoint.
    const next = capture();
    expect(await main(['replay', '--data', dir], next.io)).toBe(0);
    expect(next.out[0]).toMatch(/\(0 new after the checkpoint at position \d+;/);
  }, 60_000);

  it('writes over neither when an unreadable one was moved aside already: the new checkpoint is not saved, and that is said', async () => {
    const { dir, path, aside } = await verifiedOnce();
    writeFileSync(aside, 'the first one');
    writeFileSync(path, 'not JSON');

    const json = capture();
    expect(await main(['replay', '--data', dir, '--json'], json.io)).toBe(0);
    expect(readFileSync(aside, 'utf8')).toBe('the first one');
    expect(readFileSync(path, 'utf8')).toBe('not JSON');
    const notes = (JSON.parse(json.out.join('\n')) as { verification: { notes: string[] } }).verification.notes;
    expect(notes).toContain(
      `the replay checkpoint is not saved: ${path} could not be read, and ${aside} holds one that could not be read before: neither is written over (look at them, then remove them)`,
    );
    expect(existsSync(path)).toBe(true);
  }, 60_000);
});
