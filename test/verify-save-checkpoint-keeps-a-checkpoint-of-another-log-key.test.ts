/**
 * Review 190: `credence verify --save-checkpoint FILE` replaced a checkpoint FILE held under another key than the one
 * verified against (the old log's, after a restore started a new one; README, restore step 5: keep the old log's
 * evidence). It now refuses (exit 2), naming both key IDs and the old tree size, FILE kept. A file that is no signed
 * checkpoint at all is still replaced: it is nobody's evidence.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { openTransparencyInDir } from '../adapters/driven/transparency/index.ts';
import { runCli } from './support/cli.ts';
import { appendEvents, tempDirs } from './transparency-fixtures.ts';

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

/** A folder whose log signed a checkpoint of `events` events, and its log key's text form. */
const folder = async (events: number): Promise<{ dir: string; key: string }> => {
  const dir = dirs.make();
  const store = openSqliteStoreInDir(dir);
  await appendEvents(store, events);
  await store.close();
  openTransparencyInDir(dir).log.close();
  const exported = await runCli(['export', 'credential-meter-1', '--out', join(dir, 'e.json'), '--data', dir]);
  expect(exported.code, exported.err).toBe(0);
  return { dir, key: readFileSync(join(dir, 'transparency.pub'), 'utf8').trim() };
};

const label = (key: string): string => key.split('+').slice(0, 2).join('+');

describe('verify --save-checkpoint FILE holding a checkpoint of another log key', () => {
  it('refuses to replace it (exit 2), naming both key IDs and its tree size, and keeps FILE', async () => {
    const oldLog = await folder(3);
    const newLog = await folder(2);
    const saved = join(dirs.make(), 'saved.txt');
    expect((await runCli(['verify', '--data', oldLog.dir, '--key', oldLog.key, '--save-checkpoint', saved])).code).toBe(0);
    const kept = readFileSync(saved, 'utf8');

    const refused = await runCli(['verify', '--data', newLog.dir, '--key', newLog.key, '--save-checkpoint', saved]);

    expect(refused.code).toBe(2);
    expect(refused.err).toContain(
      `error: --save-checkpoint: ${saved} holds a checkpoint of tree size 3 signed by ${label(oldLog.key)}, not by the key verified against (${label(newLog.key)})`,
    );
    expect(refused.err).toContain('save to another file, or move it aside first');
    expect(readFileSync(saved, 'utf8')).toBe(kept);
  });

  it('still replaces a file that is no signed checkpoint', async () => {
    const log = await folder(2);
    const saved = join(dirs.make(), 'saved.txt');
    writeFileSync(saved, 'not a checkpoint\n');
    const run = await runCli(['verify', '--data', log.dir, '--key', log.key, '--save-checkpoint', saved]);
    expect(run.code, run.err).toBe(0);
    expect(readFileSync(saved, 'utf8')).toMatch(/^credence/);
  });
});
