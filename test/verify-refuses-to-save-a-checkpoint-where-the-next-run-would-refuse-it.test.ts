/**
 * Review 194: `--save-checkpoint gw/new.note` with `gw` at 0777 (not sticky) wrote the checkpoint without a word, and
 * the next run's `--checkpoint gw/new.note` refused it (exit 2): what was saved could not be used. The checkpoint
 * already kept there was read (to refuse a rollback over it) with none of those checks either. A save target is now
 * held to the rules of `--checkpoint` (trusted-file.ts) before anything is read or written there: refused (exit 2),
 * with the words the `--checkpoint` refusal uses, after the verification and before the write.
 */
import { chmodSync, existsSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { auditedFolder, foldersWithMode } from './support/audited-folder.ts';
import { runCli } from './support/cli.ts';
import { tempDirs } from './transparency-fixtures.ts';

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

/** A data folder whose log signed tree 2, and that checkpoint's note. */
const audited = () => auditedFolder(dirs.make);

/** A folder made with `mode` (chmod: the umask does not narrow it) in `parent`, a temporary folder by default. */
const folder = foldersWithMode(dirs.make);

const save = (data: string, key: string, to: string, checkpoint?: string) =>
  runCli(['verify', '--data', data, '--key', key, '--save-checkpoint', to, ...(checkpoint === undefined ? [] : ['--checkpoint', checkpoint])]);

describe('--save-checkpoint, held to the rules the next --checkpoint reads it by', () => {
  it('saves in a private folder and in a sticky one, and the next run takes what was saved as --checkpoint', async () => {
    const a = await audited();
    for (const mode of [0o700, 0o1777]) {
      const to = join(folder(mode), 'new.note');
      const first = await save(a.data, a.key, to);
      expect(first.err).toBe('');
      expect(first.code).toBe(0);
      expect(readFileSync(to, 'utf8')).toBe(a.note);
      const next = await save(a.data, a.key, to, to);
      expect(next.err).toBe('');
      expect(next.code).toBe(0);
    }
  });

  it('refuses to save in a folder others may write (not sticky): exit 2 with the words of --checkpoint, nothing written', async () => {
    const a = await audited();
    const gw = folder(0o777);
    const to = join(gw, 'new.note');
    const run = await save(a.data, a.key, to);
    expect(run.code).toBe(2);
    expect(run.err).toContain(
      `error: --save-checkpoint: ${to} is in ${gw}, which group or others may write (mode 0777): they may put another file in its place; chmod go-w ${gw}, or move the file`,
    );
    expect(existsSync(to)).toBe(false);
  });

  it('refuses to save under a folder others may write, and through a linked folder in one', async () => {
    const a = await audited();
    const loose = folder(0o777);
    const under = join(folder(0o700, loose, 'mine'), 'new.note');
    expect((await save(a.data, a.key, under)).err).toContain(`error: --save-checkpoint: ${under} is under ${loose}, which group or others may write (mode 0777)`);
    const via = join(loose, 'kept');
    symlinkSync(folder(0o700), via);
    const through = await save(a.data, a.key, join(via, 'new.note'));
    expect(through.code).toBe(2);
    expect(through.err).toContain(`error: --save-checkpoint: ${join(via, 'new.note')} is reached through ${via}, in ${loose}, which group or others may write (mode 0777)`);
  });

  it('refuses a kept checkpoint there that others may write, rather than be held by it (what it read before with no check)', async () => {
    const a = await audited();
    const to = join(folder(0o700), 'kept.note');
    writeFileSync(to, a.note);
    chmodSync(to, 0o666);
    const run = await save(a.data, a.key, to);
    expect(run.code).toBe(2);
    expect(run.err).toContain(`error: --save-checkpoint: ${to} may be written by group or others (mode 0666)`);
    expect(statSync(to).mode & 0o777).toBe(0o666); // not replaced
  });
});
