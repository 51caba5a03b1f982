import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteKeyRegistry } from '../adapters/driven/key-registry/index.ts';
import { runCli } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';
import type { NodeEpoch } from '../projections/pseudonyms/epoch-marks.ts';

/*
 * Review 205: with nothing kept in the folder moved aside, `credence pseudonym raise-marks-since-backup` printed "no
 * pseudonym epoch of data is behind the 0 data.before-restore kept", and with every mark raised it still said "the
 * others were as high already". Each outcome now reads as a sentence: nothing kept, none behind, all or some raised.
 * (Review 396: a restored folder ahead of the one moved aside, and nothing to raise, is refused as the two swapped;
 * `pseudonym-raise-marks-since-backup-refuses-…-swapped.test.ts`. Nothing kept and none behind are said of folders
 * whose marks are those of the folder moved aside, as a restore from a backup taken before any, or a run again, has.)
 */
const folder = temporaryFolders('credence-raise-marks-words-');

const folderWithMarks = (marks: readonly NodeEpoch[]): string => {
  const dir = join(folder(), 'data');
  const registry = SqliteKeyRegistry.open({ dir });
  try {
    registry.raiseEpochMarks(marks);
  } finally {
    registry.close();
  }
  return dir;
};

const said = async (data: readonly NodeEpoch[], aside: readonly NodeEpoch[]): Promise<{ text: string; data: string; aside: string }> => {
  const [d, a] = [folderWithMarks(data), folderWithMarks(aside)];
  const run = await runCli(['pseudonym', 'raise-marks-since-backup', '--data', d, '--before-restore', a]);
  expect(run.code, run.err).toBe(0);
  return { text: run.out.trim(), data: d, aside: a };
};

describe('credence pseudonym raise-marks-since-backup says', () => {
  it('that the folder moved aside kept no epoch, rather than that none is behind 0', async () => {
    const { text, data, aside } = await said([], []);
    expect(text).toBe(`${aside} kept no node's pseudonym epoch: nothing raised in ${data}`);
  });

  it('that none is behind those kept, with how many were kept', async () => {
    const { text, data, aside } = await said([{ nodeId: 'meter-a', epoch: 3 }, { nodeId: 'meter-b', epoch: 2 }], [{ nodeId: 'meter-a', epoch: 3 }, { nodeId: 'meter-b', epoch: 2 }]);
    expect(text).toBe(`no pseudonym epoch in ${data} is behind the 2 that ${aside} kept: nothing raised`);
  });

  it('that every kept epoch was raised, naming no others', async () => {
    const { text, data, aside } = await said([], [{ nodeId: 'meter-a', epoch: 3 }, { nodeId: 'meter-b', epoch: 1 }]);
    expect(text).toBe(
      `raised the pseudonym epoch of 2 node(s) in ${data} to the one ${aside} gave out (every one it kept): ` +
        'the first start then rotates each of them the log holds live past that epoch, and warns',
    );
  });

  it('how many of those kept were raised and how many were as high already', async () => {
    const { text, data, aside } = await said([{ nodeId: 'meter-a', epoch: 5 }], [{ nodeId: 'meter-a', epoch: 3 }, { nodeId: 'meter-b', epoch: 4 }, { nodeId: 'meter-c', epoch: 2 }]);
    expect(text).toBe(
      `raised the pseudonym epoch of 2 node(s) in ${data} to the one ${aside} gave out (of 3 it kept; the other 1 was as high already): ` +
        'the first start then rotates each of them the log holds live past that epoch, and warns',
    );
  });
});
