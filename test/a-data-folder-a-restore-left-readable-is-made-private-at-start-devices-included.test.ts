/**
 * Review 198 finding 2: after a restore that left the folder readable by others, the start tightened the databases it
 * opens but left the data folder itself 0755 and every `devices/<node>/secure-environment.kek`, `.sqlite` and
 * `.wrapping-keys` 0644 (the demo devices' keys), against README's "mode 0700, every file in it 0600". Taking the
 * folder's lock (the start, and every command that writes the folder) now makes the folder 0700 and everything under
 * `devices/` 0700 (folders) and 0600 (files); a link there is neither followed nor changed.
 */
import { chmodSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { modeOf, restoredDeviceFolder } from './support/restored-device-folder.ts';
import { startTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const folder = temporaryFolders('credence-restored-modes-');

const DEVICE_FILES = ['secure-environment.kek', 'secure-environment.sqlite', 'secure-environment.wrapping-keys', 'device.json'];

describe.skipIf(process.platform === 'win32')('a data folder a restore left readable by others', () => {
  it('is 0700 once the service started, with every folder under devices/ 0700 and every file 0600; a link is not followed', async () => {
    const { data, device, outside } = restoredDeviceFolder(folder(), DEVICE_FILES);
    // Outside the folder, and linked from inside it: not the folder's to change.
    symlinkSync(outside, join(device, 'linked.txt'));
    // As a restore (tar, cp -r under umask 022) leaves them; set explicitly, whatever this process's umask.
    for (const dir of [data, join(data, 'devices'), device]) chmodSync(dir, 0o755);

    const svc = await startTestService({ dir: data });
    try {
      expect([data, join(data, 'devices'), device].map(modeOf)).toEqual(['700', '700', '700']);
      expect(DEVICE_FILES.map((name) => modeOf(join(device, name)))).toEqual(['600', '600', '600', '600']);
      expect(modeOf(outside)).toBe('644');
    } finally {
      await svc.close();
    }
  }, 60_000);
});
