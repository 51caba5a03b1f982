import { existsSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { TransparencyLogOfAnotherLog } from '../projections/transparency/index.ts';
import { runCli } from './support/cli.ts';
import { folderSnapshot, servedFolderWith } from './support/served-folder.ts';
import { startTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 84, finding 2: the log's refusal said "move the transparency folder aside to start a new log"; a data folder
 * has no such folder, and moving transparency.db alone (what README's step 4 forbids) started a new log under the old
 * key, without a word: that key then signed two different trees of the same size, which auditors cannot tell from
 * tampering. The refusal now names every file to move, and a folder whose log key outlived its log is refused before
 * anything is written; a new folder, and one whose log moved aside with its key, still start.
 */
const scratch = temporaryFolders('credence-log-key-without-log-');

/** transparency.db with its -wal and -shm (those present) moved from `dir` into `aside`, its key left behind. */
const moveLogFileAlone = (dir: string, aside: string): void => {
  for (const name of readdirSync(dir).filter((n) => n.startsWith('transparency.db'))) renameSync(join(dir, name), join(aside, name));
};

describe('the refusal of a log the event store does not hold', () => {
  it('names every file of the log to move aside together, and README step 4, not a transparency folder', () => {
    const { message } = new TransparencyLogOfAnotherLog('leaf 3 differs');
    for (const name of ['transparency.db', '-wal', '-shm', 'transparency.key', 'transparency.handle', 'transparency.pub', 'step 4']) expect(message).toContain(name);
    expect(message).not.toMatch(/transparency folder/);
  });
});

describe('a data folder whose transparency.db was moved aside without its key', () => {
  it('is refused by credence serve, naming the files and README step 4, and nothing is written', async () => {
    const data = scratch();
    const aside = scratch();
    await servedFolderWith(data, ['meter-1', 'meter-2']);
    expect(existsSync(join(data, 'transparency.handle'))).toBe(true);
    moveLogFileAlone(data, aside);
    const before = folderSnapshot(data);

    const refused = await runCli(['serve', '--data', data, '--port', '0', '--log-level', 'silent']);

    expect(refused.code).not.toBe(0);
    expect(refused.err).toMatch(/transparency\.handle/);
    expect(refused.err).toMatch(/transparency\.db/);
    expect(refused.err).toMatch(/step 4/);
    expect(folderSnapshot(data)).toEqual(before);
  }, 60_000);

  it('is refused by openCredence with the log key in a file (a program without a Secure Environment), nothing written', async () => {
    const dir = scratch();
    const aside = scratch();
    const clock = new FakeClock(new Date('2026-01-01T00:00:00.000Z'));
    await openCredence({ location: { dir }, clock }).close();
    expect(existsSync(join(dir, 'transparency.key'))).toBe(true);
    moveLogFileAlone(dir, aside);
    const before = folderSnapshot(dir);

    expect(() => openCredence({ location: { dir }, clock })).toThrow(/transparency\.key[\s\S]*step 4/);

    expect(folderSnapshot(dir)).toEqual(before);
  });

  it('starts a new log under a new key once its key and transparency.pub are moved aside with it (step 4)', async () => {
    const data = scratch();
    const aside = scratch();
    await servedFolderWith(data, ['meter-1']);
    const oldPub = readFileSync(join(data, 'transparency.pub'), 'utf8');
    moveLogFileAlone(data, aside);
    for (const name of ['transparency.handle', 'transparency.pub']) renameSync(join(data, name), join(aside, name));

    const svc = await startTestService({ dir: data });
    await svc.close();

    expect(readFileSync(join(data, 'transparency.pub'), 'utf8')).not.toBe(oldPub);
  }, 60_000);
});

describe('a brand-new data folder', () => {
  it('starts, its log made with its key, and starts again', async () => {
    const data = join(scratch(), 'data');
    await (await startTestService({ dir: data })).close();
    for (const name of ['transparency.db', 'transparency.handle', 'transparency.pub']) expect(existsSync(join(data, name)), name).toBe(true);
    await (await startTestService({ dir: data })).close();
  }, 60_000);
});
