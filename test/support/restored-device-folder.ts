import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The permission bits of `path` (a link followed) in octal: '600'. */
export const modeOf = (path: string): string => (statSync(path).mode & 0o777).toString(8);

/**
 * A device folder as a restore (tar, cp -r under umask 022) leaves it: `<root>/data/devices/meter-1` holding each of
 * `files`, mode 0644, and `<root>/outside.txt`, 0644, outside the data folder, for a link from inside it to name.
 * Modes are set with chmod, whatever this process's umask.
 */
export const restoredDeviceFolder = (root: string, files: readonly string[]): { data: string; device: string; outside: string } => {
  const data = join(root, 'data');
  const device = join(data, 'devices', 'meter-1');
  mkdirSync(device, { recursive: true });
  const outside = join(root, 'outside.txt');
  writeFileSync(outside, 'not a data file\n');
  chmodSync(outside, 0o644);
  for (const name of files) {
    writeFileSync(join(device, name), 'restored\n');
    chmodSync(join(device, name), 0o644);
  }
  return { data, device, outside };
};
