import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KEY_FILE, KEY_HANDLE_FILE, PUBLIC_KEY_FILE } from '../adapters/driven/transparency/index.ts';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { withKekFile } from './support/kek-file-env.ts';
import { moveTransparencyLogAside } from './support/restored-folder.ts';
import { folderSnapshot, servedFolderWith } from './support/served-folder.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 134: `credence export --data` on a folder with neither `transparency.handle` nor `transparency.key` (its log
 * moved aside, README restore step 4, where "a new key is generated [in the Secure Environment] at the next start")
 * made `transparency.key` in the folder, even with the KEK kept outside it, and the next start kept that file as the
 * log's key. The export now makes the key where `credence serve` makes it, by the same function; a Secure Environment
 * it cannot open refuses the export before anything is written.
 */
const scratch = temporaryFolders('credence-export-no-log-key-');

const credence = async (argv: string[], env: Record<string, string> = {}): Promise<{ code: number; said: string }> => {
  const { io, out, err } = capture();
  const code = await main(argv, { ...io, env });
  return { code, said: [...out, ...err].join('\n') };
};

/** A folder served with its KEK outside it, then its log, handle and public key moved aside (restore step 4). */
const folderWithItsLogMovedAside = async (): Promise<{ dir: string; kek: string; keep: string }> => {
  const dir = join(scratch(), 'data');
  const kek = join(scratch(), 'secrets', 'credence.kek');
  await withKekFile(kek, () => servedFolderWith(dir, ['meter-1']));
  const keep = join(scratch(), 'data.before-restore');
  mkdirSync(keep);
  moveTransparencyLogAside(dir, keep);
  expect(existsSync(join(keep, KEY_HANDLE_FILE))).toBe(true);
  return { dir, kek, keep };
};

describe('credence export --data on a folder without a log key', () => {
  it('makes the key in the Secure Environment, as the next start would, and that start signs with it', async () => {
    const { dir, kek, keep } = await folderWithItsLogMovedAside();
    const bundle = join(scratch(), 'bundle.json');

    const exported = await credence(['export', 'node-meter-1', '--data', dir, '--out', bundle], { CREDENCE_KEK_FILE: kek });

    expect(exported.code, exported.said).toBe(0);
    expect(existsSync(join(dir, KEY_FILE))).toBe(false);
    expect(readFileSync(join(dir, KEY_HANDLE_FILE), 'utf8')).toMatch(/^key_[A-Za-z0-9_-]{24}\n$/);
    // A new key, not the retired one.
    expect(readFileSync(join(dir, KEY_HANDLE_FILE), 'utf8')).not.toBe(readFileSync(join(keep, KEY_HANDLE_FILE), 'utf8'));
    const pub = join(dir, PUBLIC_KEY_FILE);
    expect(readFileSync(pub, 'utf8')).not.toBe(readFileSync(join(keep, PUBLIC_KEY_FILE), 'utf8'));
    expect((await credence(['verify', bundle, '--key', pub])).code).toBe(0);
    // The start keeps that key (no key file to keep instead) and signs the new events with it.
    const pinned = readFileSync(pub, 'utf8');
    await withKekFile(kek, () => servedFolderWith(dir, ['meter-2']));
    expect(existsSync(join(dir, KEY_FILE))).toBe(false);
    expect(readFileSync(pub, 'utf8')).toBe(pinned);
    const audited = await credence(['verify', '--data', dir, '--key', pub]);
    expect(audited.code, audited.said).toBe(0);
  }, 120_000);

  it('of a stream with no event is refused before the key is made (review 218): no log, no key, the folder as it was', async () => {
    const { dir, kek } = await folderWithItsLogMovedAside();
    const before = folderSnapshot(dir);

    const exported = await credence(['export', 'node-no-such-meter', '--data', dir, '--out', join(scratch(), 'bundle.json')], { CREDENCE_KEK_FILE: kek });

    expect(exported.code).toBe(1);
    expect(exported.said).toContain('node-no-such-meter has no events');
    expect(folderSnapshot(dir)).toEqual(before);
    expect(existsSync(join(dir, KEY_HANDLE_FILE))).toBe(false);
  }, 120_000);

  it('without the KEK it is kept under is refused before anything is written: no log, no key file', async () => {
    const { dir } = await folderWithItsLogMovedAside();
    const before = folderSnapshot(dir);

    const exported = await credence(['export', 'node-meter-1', '--data', dir, '--out', join(scratch(), 'bundle.json')]);

    expect(exported.code).not.toBe(0);
    expect(exported.said).toContain('CREDENCE_KEK_FILE');
    expect(folderSnapshot(dir)).toEqual(before);
    expect(existsSync(join(dir, KEY_FILE))).toBe(false);
  }, 120_000);
});
