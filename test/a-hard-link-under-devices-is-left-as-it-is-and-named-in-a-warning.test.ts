/**
 * Review 202 finding 2: taking the data folder's lock made every file under devices/ private through a descriptor
 * opened without following a symbolic link, but a hard link under devices/ to a file outside the folder had that
 * file's mode changed. A regular file with more than one link is now left as it is, and named in a warning.
 */
import { linkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { lockDataFolder } from '../adapters/driven/files/data-folder-lock.ts';
import { modeOf, restoredDeviceFolder } from './support/restored-device-folder.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const folder = temporaryFolders('credence-hard-link-');

afterEach(() => vi.restoreAllMocks());

describe.skipIf(process.platform === 'win32')('a hard link under devices/ to a file outside the data folder', () => {
  it('leaves that file as it is, names the link in a warning, and makes the other files private', () => {
    const { device, data, outside } = restoredDeviceFolder(folder(), ['secure-environment.kek']);
    const linked = join(device, 'linked.txt');
    linkSync(outside, linked);
    const kek = join(device, 'secure-environment.kek');
    const warnings: string[] = [];
    vi.spyOn(process, 'emitWarning').mockImplementation((warning: string | Error) => {
      warnings.push(String(warning));
    });

    lockDataFolder(data).release();

    expect(modeOf(outside)).toBe('644');
    expect(modeOf(kek)).toBe('600');
    expect(warnings.join('\n')).toContain(JSON.stringify(linked));
  });
});
