import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deviceCli as device } from './support/device-cli.ts';

// Found in review 417: `device init --dir <a folder of mode 0777>` was refused as `invalid data folder: data: … is
// writable by group or others`, naming neither --dir nor a device folder, and only after it had asked the server (ids
// unused, clock, pins); `--dir <a regular file>` was the system's `ENOTDIR: not a directory, scandir …` for init and
// "holds no device: run credence device init first" for provision. Both are said now, naming --dir, before anything
// is sent: the file as bad usage (exit 2) by every device command taking --dir.

const root = mkdtempSync(join(tmpdir(), 'credence-dir-option-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Nothing listens there: a command that asks the server first fails as unreachable (exit 3), not by its folder. */
const NOWHERE = ['--server', 'http://127.0.0.1:1', '--token', 'not-used'];

describe('--dir naming a folder group or others may write to', () => {
  it.skipIf(process.platform === 'win32')('device init is refused naming --dir and the device folder, before any server call, and the folder is left as it was', async () => {
    const dir = join(root, 'open');
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    const init = await device(['init', '--dir', dir, '--node-id', 'open-1', '--kind', 'ed25519', ...NOWHERE]);
    expect(init.output).toContain(`invalid device folder: --dir: ${dir} is writable by group or others (mode 777); run chmod 700 ${dir}`);
    expect(init.output).not.toContain('data folder');
    expect(init.code, init.output).toBe(1);
    expect(readdirSync(dir)).toEqual([]);

    const provision = await device(['provision', '--dir', dir, '--credential-id', 'open-1-svc', '--kind', 'ed25519', ...NOWHERE]);
    expect(provision.output).toContain(`invalid device folder: --dir: ${dir} is writable by group or others`);
    expect(provision.code, provision.output).toBe(1);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('--dir naming a regular file', () => {
  const file = join(root, 'afile');
  writeFileSync(file, 'not a device\n');

  it.each([
    ['init', ['init', '--node-id', 'file-1', '--kind', 'ed25519', ...NOWHERE]],
    ['provision', ['provision', '--credential-id', 'file-1-svc', '--kind', 'ed25519', ...NOWHERE]],
    ['associate', ['associate', '--association-id', 'file-1-sa', '--credential-id', 'file-1-svc', '--server', 'http://127.0.0.1:1']],
    ['status', ['status']],
    ['certificate', ['certificate']],
    ['fleet', ['fleet', '--count', '1', ...NOWHERE]],
  ])('device %s is refused as bad usage, `--dir: <path> is not a folder` (exit 2)', async (_command, argv) => {
    const run = await device([...argv, '--dir', file]);
    expect(run.output).toContain(`--dir: ${file} is not a folder`);
    expect(run.output).not.toContain('ENOTDIR');
    expect(run.output).not.toContain('holds no device');
    expect(run.code, run.output).toBe(2);
  });
});
