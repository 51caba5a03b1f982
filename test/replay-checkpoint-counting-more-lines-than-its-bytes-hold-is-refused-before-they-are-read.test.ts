import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CheckpointFile, CHECKPOINT_FILE, readCheckpointFileJson } from '../adapters/driven/replay-checkpoint/checkpoint-file.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 454 F1: the replay checkpoint's first line says how many lines of each array follow, and a load read that many
 * lines, holding each, before it found the file did not hold them: a crafted file whose first line counts more lines
 * than its bytes can hold (or a great many tiny ones) could run the heap out before it was refused. Every line is at
 * least 2 bytes (a value and its newline), so counts the file's size cannot hold are refused before a line is read, as
 * a problem (the log is verified in full), never a throw; and a count that is not a non-negative safe integer likewise.
 */
describe('a replay checkpoint whose first line counts more lines than the file can hold', () => {
  const folder = temporaryFolders('credence-checkpoint-counts-');

  /** A checkpoint file of the line form: its first line with `lines`, then `after`. */
  const written = (lines: Record<string, unknown>, after = ''): string => {
    const dir = folder();
    writeFileSync(join(dir, CHECKPOINT_FILE), `${JSON.stringify({ format: 2, position: '1', lines })}\n${after}`);
    return dir;
  };

  it.each([
    ['ten million entities in a few bytes', { entities: 10_000_000 }, '[]\n'],
    ['counts that add up past the size though each is small', { findings: 40, entities: 40, claims: 40, revisions: 40, commandIds: 40 }, '0\n0\n0\n0\n0\n'],
    ['the largest safe integer', { commandIds: Number.MAX_SAFE_INTEGER }, ''],
  ])('%s: refused as a problem naming the counts and the size, nothing thrown', (_, lines, after) => {
    const dir = written(lines, after);
    const file = new CheckpointFile(dir);
    let loaded: ReturnType<CheckpointFile['load']>;
    expect(() => (loaded = file.load())).not.toThrow();
    expect(loaded!).toMatchObject({ ok: false });
    expect((loaded as { problem: string }).problem).toMatch(/first line counts \d+ lines, more than its \d+ bytes can hold/);
    // A person's or a test's read of the file refuses it the same way.
    expect(() => readCheckpointFileJson(join(dir, CHECKPOINT_FILE))).toThrow(/more than its \d+ bytes can hold/);
  });

  it.each([
    ['negative', -1],
    ['a fraction', 1.5],
    ['past the safe integers', 2 ** 60],
    ['a string', '1'],
  ])('a count that is %s is refused as a problem, nothing thrown', (_, count) => {
    const file = new CheckpointFile(written({ entities: count }, '[]\n'));
    let loaded: ReturnType<CheckpointFile['load']>;
    expect(() => (loaded = file.load())).not.toThrow();
    expect(loaded!).toMatchObject({ ok: false });
    expect((loaded as { problem: string }).problem).toMatch(/count of entities lines is not a count/);
  });

  it('counts the file can hold are read on as before (each line checked as it comes)', () => {
    const dir = written({ entities: 2 }, '[]\n');
    const loaded = new CheckpointFile(dir).load();
    expect(loaded).toMatchObject({ ok: false });
    expect((loaded as { problem: string }).problem).toMatch(/line 3 should be entities 2 of 2, but the file ends/);
  });
});
