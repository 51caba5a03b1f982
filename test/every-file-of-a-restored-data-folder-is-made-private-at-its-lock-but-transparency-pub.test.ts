/**
 * Review 350 #2: README says every file in the data folder is 0600 but the public `transparency.pub`, yet taking the
 * folder's lock tightened only the folder itself and what is under `devices/` (its databases as each is opened): a
 * restore that left `pki/` 0755, `pki/*.json`, `transparency.handle`, `first-event.json` or `replay-checkpoint.json`
 * 0644 kept them so, silently. Taking the lock (the start, and every command that writes the folder) now makes every
 * folder under it 0700 and every file 0600, but `transparency.pub` (handed to auditors, 0644); a link is neither
 * followed nor changed.
 */
import { chmodSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lockDataFolder } from '../adapters/driven/files/index.ts';
import { cmd } from './support/fleet.ts';
import { modeOf } from './support/restored-device-folder.ts';
import { startTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const folder = temporaryFolders('credence-restored-folder-modes-');

/** `paths` as a restore under umask 022 leaves them (folders 0755, files 0644), set whatever this process's umask. */
const loosen = (paths: readonly string[]): void => {
  for (const path of paths) chmodSync(path, statSync(path).isDirectory() ? 0o755 : 0o644);
};

describe.skipIf(process.platform === 'win32')('a data folder a restore left readable by others', () => {
  it('has every folder under it 0700 and every file 0600 once its lock is taken, transparency.pub 0644, a link not followed', () => {
    const root = folder();
    const data = join(root, 'data');
    const pki = join(data, 'pki');
    const nested = join(pki, 'ca-default');
    mkdirSync(nested, { recursive: true });
    const outside = join(root, 'outside.txt');
    const files = [
      join(data, 'first-event.json'),
      join(data, 'replay-checkpoint.json'),
      join(data, 'transparency.handle'),
      join(pki, 'default.json'),
      join(nested, 'crl-numbers.json'),
    ];
    for (const path of [...files, outside, join(data, 'transparency.pub')]) writeFileSync(path, '{}\n');
    symlinkSync(outside, join(pki, 'linked.json'));
    loosen([data, pki, nested, ...files, outside, join(data, 'transparency.pub')]);

    lockDataFolder(data).release();

    expect([data, pki, nested].map(modeOf)).toEqual(['700', '700', '700']);
    expect(files.map(modeOf)).toEqual(files.map(() => '600'));
    expect(modeOf(join(data, 'transparency.pub'))).toBe('644');
    expect(modeOf(outside)).toBe('644');
  });

  it('is so once the service started on a served folder whose files a restore loosened', async () => {
    const data = folder();
    let svc = await startTestService({ dir: data });
    await svc.service.context.credence.engine.execute(cmd.registerNode('meter-1'));
    await svc.close();
    const names = readdirSync(data).filter((n) => n === 'first-event.json' || n === 'transparency.handle');
    expect(names.sort()).toEqual(['first-event.json', 'transparency.handle']);
    loosen(names.map((n) => join(data, n)));

    svc = await startTestService({ dir: data });
    try {
      expect(names.map((n) => modeOf(join(data, n)))).toEqual(['600', '600']);
      expect(modeOf(join(data, 'transparency.pub'))).toBe('644');
    } finally {
      await svc.close();
    }
  }, 60_000);
});
