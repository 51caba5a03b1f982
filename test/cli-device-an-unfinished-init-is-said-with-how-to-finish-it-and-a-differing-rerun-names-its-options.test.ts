import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deviceCli } from './support/device-cli.ts';
import { pendingInit } from './support/pending-device-init.ts';

// Found in review 302: a folder holding only an unfinished init was described by status and provision as "holds no
// device: run credence device init first", and a rerun differing from the pending init only in a profile member,
// --valid-for or --kind was refused without saying which. Now the unfinished init is named (node, bootstrap id) with
// how to finish it, and a differing rerun names each option that differs and the pending value.

const root = mkdtempSync(join(tmpdir(), 'credence-unfinished-init-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// No server is reached: every refusal here is said before anything is sent.
const server = ['--server', 'http://127.0.0.1:2', '--token', 't'];

describe('a folder holding an unfinished device init', () => {
  it('is said by status and provision to hold an unfinished init of its node, finished by running the same init again', async () => {
    const dir = join(root, 'half');
    await pendingInit(dir, 'half-1', 'half-1-boot');
    const status = await deviceCli(['status', '--dir', dir]);
    expect(status.code).not.toBe(0);
    expect(status.output).toContain(`${dir} holds an unfinished init of node half-1 (bootstrap half-1-boot)`);
    expect(status.output).toMatch(/run the same device init again to finish it/);
    expect(status.output).not.toMatch(/holds no device/);
    const provision = await deviceCli(['provision', '--dir', dir, '--credential-id', 'c1', '--kind', 'ed25519', '--server', 'http://127.0.0.1:2']);
    expect(provision.output).toContain(`${dir} holds an unfinished init of node half-1 (bootstrap half-1-boot)`);
  });

  it('refuses a rerun differing in profile, --valid-for and --kind, naming each option and its pending value', async () => {
    const dir = join(root, 'differs');
    // The pending init: ed25519, one day, class smart-meter, model SM-1, manufacturer Acme, capabilities metering.
    await pendingInit(dir, 'differs-1', 'differs-1-boot');
    const rerun = await deviceCli([
      'init', '--dir', dir, '--node-id', 'differs-1', '--bootstrap-id', 'differs-1-boot', '--kind', 'p256',
      '--manufacturer', 'Acme', '--model', 'SM-2', '--class', 'smart-meter', '--capability', 'metering', '--valid-for', '2d', ...server,
    ]);
    expect(rerun.code).not.toBe(0);
    expect(rerun.output).toContain('holds an unfinished init of node differs-1 (bootstrap differs-1-boot)');
    expect(rerun.output).toContain('--model SM-1');
    expect(rerun.output).toContain('--kind ed25519');
    expect(rerun.output).toContain('--valid-for 1d');
    expect(rerun.output).not.toContain('--manufacturer');
    expect(rerun.output).not.toContain('--class');
    expect(rerun.output).not.toMatch(/cannot reach/);
  });
});
