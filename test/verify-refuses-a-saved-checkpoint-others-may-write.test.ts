/**
 * Review 190: the checkpoint an auditor keeps (`--checkpoint SAVED` with --data or a bundle, `--from SAVED` with
 * --server) was read with no check of who may write it, though it sets the point a later checkpoint must reach: SAVED
 * at 0666 in a 0777 folder, an older genuine checkpoint swapped in turned `FAILED (rollback)` into `ok`. It is now held
 * to the rules of `--key` (review 81, 85): refused (exit 2), naming the option and the rule.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { openTransparencyInDir, openTransparencyLogInDir } from '../adapters/driven/transparency/index.ts';
import { closedPort } from './support/closed-port.ts';
import { runCli } from './support/cli.ts';
import { appendEvents, tempDirs } from './transparency-fixtures.ts';
import { fileWithModes } from './support/audited-folder.ts';

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

/** A folder whose log signed tree 2, exported then (old.json), and tree 5 (new.json); its key and both notes. */
const folder = async () => {
  const dir = dirs.make();
  let store = openSqliteStoreInDir(dir);
  await appendEvents(store, 2);
  await store.close();
  openTransparencyInDir(dir).log.close();
  expect((await runCli(['export', 'credential-meter-1', '--out', join(dir, 'old.json'), '--data', dir])).code).toBe(0);
  store = openSqliteStoreInDir(dir);
  await appendEvents(store, 3, 2);
  await store.close();
  expect((await runCli(['export', 'credential-meter-1', '--out', join(dir, 'new.json'), '--data', dir])).code).toBe(0);
  const log = openTransparencyLogInDir(dir);
  const notes = { at2: log.checkpointAt(2)!.note, at5: log.checkpointAt(5)!.note };
  log.close();
  return { dir, key: readFileSync(join(dir, 'transparency.pub'), 'utf8').trim(), ...notes };
};

/** `note` written as `saved.txt` with `mode` in a folder made with `folderMode`. */
const savedFile = (note: string, folderMode: number, mode: number): string =>
  fileWithModes(dirs.make, { folder: 'audits', file: 'saved.txt' }, note, folderMode, mode);

describe('the checkpoint an auditor keeps, held to the rules of --key', () => {
  it('a bundle is held to a SAVED of this account others may only read: an older bundle fails consistency_unproven (review 372)', async () => {
    const f = await folder();
    const saved = savedFile(f.at5, 0o755, 0o644);
    const run = await runCli(['verify', join(f.dir, 'old.json'), '--key', f.key, '--checkpoint', saved]);
    expect(run.code).toBe(1);
    expect(run.err).toMatch(/^FAILED \(consistency_unproven\): .*smaller than the checkpoint kept/);
  });

  it('refuses a SAVED others may write (exit 2), rather than pass an older checkpoint swapped in', async () => {
    const f = await folder();
    const saved = savedFile(f.at5, 0o777, 0o666);
    writeFileSync(saved, f.at2); // what anyone could do
    const run = await runCli(['verify', join(f.dir, 'old.json'), '--key', f.key, '--checkpoint', saved]);
    expect(run.code).toBe(2);
    expect(run.err).toContain(`error: --checkpoint: ${saved} may be written by group or others (mode 0666)`);
    expect(run.out).toBe('');
  });

  it('refuses a SAVED in a folder others may write (not sticky), with --data too', async () => {
    const f = await folder();
    const saved = savedFile(f.at2, 0o777, 0o644);
    const run = await runCli(['verify', '--data', f.dir, '--key', f.key, '--checkpoint', saved]);
    expect(run.code).toBe(2);
    expect(run.err).toMatch(/^error: --checkpoint: .*which group or others may write \(mode 0777\): they may put another file in its place/);
  });

  it('refuses a --from SAVED others may write with --server, before the server is asked', async () => {
    const f = await folder();
    const saved = savedFile(f.at2, 0o755, 0o666);
    const run = await runCli(['verify', '--server', `http://127.0.0.1:${await closedPort()}`, '--key', f.key, '--token', 'a-token', '--from', saved]);
    expect(run.code).toBe(2);
    expect(run.err).toContain(`error: --from: ${saved} may be written by group or others (mode 0666)`);
  });
});
