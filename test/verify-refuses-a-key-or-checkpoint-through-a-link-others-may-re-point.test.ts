/**
 * Review 194: a `--key` or `--checkpoint` named through a link was held to the folders above the file the link leads
 * to only. `gw` at 0777 (not sticky), `gw/key.pub` a link to the log's key and `gw/link.note` a link to a checkpoint
 * kept in a private folder: `verify --data` passed (exit 0), though whoever may write `gw` may re-point either link,
 * while the same checkpoint copied into `gw` was refused (2). Every folder a name of the path as given is looked up in
 * is now held to the same rule, and a link on the way must be this account's or root's; a sticky folder stays allowed.
 */
import { copyFileSync, lchownSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { withTrustedFile } from '../adapters/driven/files/index.ts';
import { auditedFolder, foldersWithMode } from './support/audited-folder.ts';
import { runCli } from './support/cli.ts';
import { tempDirs } from './transparency-fixtures.ts';

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

/** A data folder whose log signed tree 2: the folder, its key file and that checkpoint kept in a private folder. */
const audited = async () => {
  const { data, key, note } = await auditedFolder(dirs.make);
  const saved = join(folder(0o700), 'saved.note');
  writeFileSync(saved, note, { mode: 0o644 });
  return { data, pub: key, saved };
};

/** A folder made with `mode` (chmod: the umask does not narrow it) in a temporary folder of this account. */
const folder = foldersWithMode(dirs.make);

/** `name` in `where`, a link to `target`. */
const link = (target: string, where: string, name: string): string => {
  const made = join(where, name);
  symlinkSync(target, made);
  return made;
};

const verifyData = (data: string, key: string, checkpoint?: string) =>
  runCli(['verify', '--data', data, '--key', key, ...(checkpoint === undefined ? [] : ['--checkpoint', checkpoint])]);

describe('a --key or --checkpoint named through a link, held to the folder the link is in', () => {
  it('passes through links of this account in a private folder and in a sticky one', async () => {
    const a = await audited();
    for (const mode of [0o700, 0o1777]) {
      const gw = folder(mode);
      const run = await verifyData(a.data, link(a.pub, gw, 'key.pub'), link(a.saved, gw, 'link.note'));
      expect(run.err).toBe('');
      expect(run.code).toBe(0);
    }
  });

  it('refuses a --key that is a link in a folder others may write (not sticky), naming the folder and the rule', async () => {
    const a = await audited();
    const gw = folder(0o777);
    const key = link(a.pub, gw, 'key.pub');
    const run = await verifyData(a.data, key);
    expect(run.code).toBe(2);
    expect(run.err).toContain(`error: --key: ${key} (${a.pub}) is reached through ${key}, in ${gw}, which group or others may write (mode 0777): they may put another file in its place`);
  });

  it('refuses a --checkpoint that is a link in a folder others may write, as it refuses the file copied there', async () => {
    const a = await audited();
    const gw = folder(0o777);
    const note = link(a.saved, gw, 'link.note');
    const run = await verifyData(a.data, a.pub, note);
    expect(run.code).toBe(2);
    expect(run.err).toContain(`error: --checkpoint: ${note} (${a.saved}) is reached through ${note}, in ${gw}, which group or others may write (mode 0777)`);
    const copy = join(gw, 'copy.note');
    copyFileSync(a.saved, copy);
    expect((await verifyData(a.data, a.pub, copy)).err).toContain(`error: --checkpoint: ${copy} is in ${gw}, which group or others may write (mode 0777)`);
  });

  it('refuses a link in a private folder under one others may write: the private folder may be renamed and replaced', async () => {
    const a = await audited();
    const loose = folder(0o777);
    const mine = folder(0o700, loose, 'mine');
    const key = link(a.pub, mine, 'key.pub');
    const run = await verifyData(a.data, key);
    expect(run.code).toBe(2);
    expect(run.err).toContain(`error: --key: ${key} (${a.pub}) is reached through ${mine}, in ${loose}, which group or others may write (mode 0777)`);
  });

  it('refuses a path through a linked folder in a folder others may write (the link, not the file, in it)', async () => {
    const a = await audited();
    const gw = folder(0o777);
    const via = link(join(a.saved, '..'), gw, 'kept');
    const run = await verifyData(a.data, a.pub, join(via, 'saved.note'));
    expect(run.code).toBe(2);
    expect(run.err).toContain(`is reached through ${via}, in ${gw}, which group or others may write (mode 0777)`);
  });

  it.skipIf(process.geteuid?.() !== 0)('refuses a link another account owns, in a sticky folder where that account may replace it', async () => {
    const a = await audited();
    const key = link(a.pub, folder(0o1777), 'key.pub');
    lchownSync(key, 65534, 65534);
    const run = await verifyData(a.data, key);
    expect(run.code).toBe(2);
    expect(run.err).toContain(`error: --key: ${key} (${a.pub}) is reached through the link ${key}, owned by uid 65534, not by this account (uid 0) or root`);
  });

  it('holds withTrustedFile itself to the link: a policy or key read through one in a loose folder is not read', () => {
    const mine = folder(0o700);
    const file = join(mine, 'policy.json');
    writeFileSync(file, 'read', { mode: 0o644 });
    const gw = folder(0o777);
    const via = link(file, gw, 'policy.json');
    expect(withTrustedFile(file, () => readFileSync(file, 'utf8'))).toEqual({ ok: true, value: 'read' });
    expect(withTrustedFile(via, () => 'read')).toEqual({ ok: false, kind: 'trusted_file', message: expect.stringContaining(`is reached through ${via}, in ${gw}, which group or others may write`) });
  });
});
