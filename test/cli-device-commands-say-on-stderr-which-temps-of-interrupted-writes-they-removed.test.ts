import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closedPort } from './support/closed-port.ts';
import { startTestService, type TestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';
import { deviceCli, leaveStrays, STRAY_CONTENTS, STRAYS } from './support/device-strays.ts';

/*
 * Taking a device folder's lock removes the temps interrupted writes left in it (folder-lock.ts), a whole KEK of the
 * device's Secure Environment among them, and `credence device` said nothing of it: an operator who found a file
 * gone, or a backup that differed, could not learn why. Each command that takes the lock now says, in one line on
 * stderr, how many it removed from which folder and their names, never their contents, as the data folder's
 * commands say their sweep (bin/commands/folder-lock.ts). `device status` reads device.json without the lock, and
 * sweeps nothing.
 */
const scratch = temporaryFolders('credence-device-strays-said-');

const sweptLine = (command: string, dir: string) => new RegExp(`^credence device ${command}: removed 2 temp files interrupted writes had left in ${dir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: \\S`);

/** One line of stderr says the sweep, naming both strays; nothing printed holds their contents; they are gone. */
const expectSaid = (run: { out: string[]; err: string[] }, command: string, dir: string): void => {
  const said = run.err.filter((line) => line.includes('interrupted writes had left'));
  expect(said, run.err.join('\n')).toHaveLength(1);
  expect(said[0]).toMatch(sweptLine(command, dir));
  for (const name of STRAYS) expect(said[0]).toContain(name);
  expect(run.out.some((line) => line.includes('interrupted writes'))).toBe(false);
  expect([...run.out, ...run.err].join('\n')).not.toContain(STRAY_CONTENTS);
  for (const name of STRAYS) expect(readdirSync(dir)).not.toContain(name);
};

let service: TestService;
beforeAll(async () => {
  service = await startTestService();
}, 60_000);
afterAll(async () => {
  await service?.close();
});

describe('a credence device command that removes the temps interrupted writes left in its folder', () => {
  it('device init (on a folder already there) says how many it removed and from which folder, on stderr', async () => {
    const dir = join(scratch(), 'device-meter-s1');
    mkdirSync(dir, { mode: 0o700 });
    leaveStrays(dir);
    // Refused at the server (unreachable) once the folder is locked: the sweep is said all the same.
    const init = await deviceCli(['init', '--node-id', 'meter-s1', '--kind', 'ed25519', '--dir', dir, '--server', `http://127.0.0.1:${await closedPort()}`, '--token', 'unused']);
    expect(init.code).not.toBe(0);
    expectSaid(init, 'init', dir);
  }, 60_000);

  it('device provision and associate say it, once per sweep; a folder with none says nothing', async () => {
    const dir = join(scratch(), 'device-meter-s2');
    const init = await deviceCli(['init', '--node-id', 'meter-s2', '--kind', 'ed25519', '--dir', dir, '--server', service.url, '--token', service.tokens.operator]);
    expect(init.code, init.err.join('\n')).toBe(0);
    expect(init.err.join('\n')).not.toContain('interrupted writes');
    const unreachable = `http://127.0.0.1:${await closedPort()}`;

    leaveStrays(dir);
    const provision = await deviceCli(['provision', '--dir', dir, '--credential-id', 'meter-s2-svc', '--kind', 'ed25519', '--server', unreachable]);
    expect(provision.code).not.toBe(0);
    expectSaid(provision, 'provision', dir);

    leaveStrays(dir);
    const associate = await deviceCli(['associate', '--dir', dir, '--association-id', 'meter-s2-sa', '--credential-id', 'meter-s2-svc', '--server', unreachable]);
    expect(associate.code).not.toBe(0);
    expectSaid(associate, 'associate', dir);

    const again = await deviceCli(['provision', '--dir', dir, '--credential-id', 'meter-s2-svc', '--kind', 'ed25519', '--server', unreachable]);
    expect(again.err.join('\n')).not.toContain('interrupted writes');
  }, 60_000);
});
