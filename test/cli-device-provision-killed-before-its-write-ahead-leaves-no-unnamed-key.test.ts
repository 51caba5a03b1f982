import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { openDevice } from '../bin/commands/device/simulator.ts';
import { readState } from '../bin/commands/device/state.ts';
import { provisioningDevices } from './support/provisioning-device.ts';
import { answerWith, forwarded, standInProxy } from './support/stand-in-proxy.ts';

// Review 183: a `device provision` killed (Ctrl-C, SIGTERM, a kill) after its new key was stored in the device's Secure
// Environment and before the write-ahead named it in device.json left a private key no file named, and no rerun ever
// removed it (the SE held 2 keys, device.json named 1; a rerun that succeeded left 3, naming 2). A rerun now destroys
// every stored key no file of the folder names, before it makes its own: whatever moment the run died at, the keys
// held after a rerun are the keys named.

const CLI = fileURLToPath(new URL('../bin/credence.mjs', import.meta.url));
const { url, operator, device, enrolledDevice, named, held } = provisioningDevices('sub-kw');
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const AUTH = '/v1/enrolment/auth';

/** A stand-in that forwards everything but the auth, which it holds unanswered: the run waits, its new key stored. */
const holdingTheAuth = async () => {
  let heard: () => void = () => {};
  const authHeard = new Promise<void>((resolve) => (heard = resolve));
  const proxy = await standInProxy(async (req, res, body) => {
    if (req.url === AUTH) return heard();
    return answerWith(res, await forwarded(url(), req, body));
  });
  cleanups.push(() => proxy.close());
  return { url: proxy.url, authHeard };
};

/** The rerun that finishes the provisioning, against the service itself, with an operator token. */
const rerun = (dir: string, credentialId: string, kind = 'ed25519') =>
  device(['provision', '--dir', dir, '--credential-id', credentialId, '--kind', kind, '--server', url(), '--token', operator().token]);

describe('credence device provision, killed before its write-ahead named its new key', () => {
  it.each(['SIGINT', 'SIGTERM', 'SIGKILL'] as const)('%s while the auth is sent: the rerun destroys the key no file names, and keeps every named one', async (signal) => {
    const nodeId = `kw-${signal.toLowerCase()}`;
    const dir = await enrolledDevice(nodeId);
    const credentialId = `${nodeId}-svc`;
    const stand = await holdingTheAuth();
    const child = spawn(process.execPath, [CLI, 'device', 'provision', '--dir', dir, '--credential-id', credentialId, '--kind', 'ed25519', '--server', stand.url], {
      env: Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'CREDENCE_TOKEN')),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cleanups.push(() => void child.kill('SIGKILL'));
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    await stand.authHeard;
    child.kill(signal);
    await exited;

    // What the review found: the new key stored, no file naming it.
    const state = readState(dir);
    expect(state.provisioning, err).toBeUndefined();
    expect(held(dir)).toHaveLength(2);
    expect(named(state)).toHaveLength(1);

    const finished = await rerun(dir, credentialId);
    expect(finished.output).toContain(`credential ${credentialId}`);
    expect(finished.code).toBe(0);
    const after = readState(dir);
    expect(after.credentials.map((c) => c.credentialId)).toEqual([credentialId]);
    expect(held(dir).map((k) => k.handle)).toEqual(named(after));
    expect(held(dir)).toHaveLength(2);
  }, 60_000);

  it('keys stored by runs that died between generate (or a PSK\'s unwrap) and the auth: a rerun destroys them, and keeps every named key, its association\'s session keys among them', async () => {
    const dir = await enrolledDevice('kw-simulated');
    // A first run, its credential recorded and held, and an association established with it.
    expect((await rerun(dir, 'kw-simulated-one')).code).toBe(0);
    const associated = await device(['associate', '--dir', dir, '--association-id', 'kw-simulated-sa', '--credential-id', 'kw-simulated-one', '--server', url(), '--token', operator().token]);
    expect(associated.code, associated.output).toBe(0);
    // Runs that died after their key was stored and before anything named it, as the killed process leaves them.
    const sim = openDevice(dir);
    let orphans: string[];
    try {
      orphans = [await sim.device.se.generate('p256', { usage: 'sign' }), await sim.device.se.generate('ed25519', { usage: 'sign' }), await sim.device.se.generate('psk256')];
    } finally {
      sim.close();
    }
    const before = readState(dir);
    const sessionKeys = before.associations.flatMap((a) => [a.sessionKeys.send, a.sessionKeys.receive]);
    expect(sessionKeys).toHaveLength(2);
    expect(held(dir).map((k) => k.handle)).toEqual([...named(before), ...sessionKeys, ...orphans].sort());

    expect((await rerun(dir, 'kw-simulated-two', 'p256')).code).toBe(0);
    const after = readState(dir);
    expect(after.credentials.map((c) => c.credentialId).sort()).toEqual(['kw-simulated-one', 'kw-simulated-two']);
    expect(held(dir).map((k) => k.handle)).toEqual([...named(after), ...sessionKeys].sort());
    for (const handle of named(before)) expect(held(dir).map((k) => k.handle)).toContain(handle);
  }, 60_000);

  it('a pending init file that cannot be read may name a key: nothing is destroyed', async () => {
    const dir = await enrolledDevice('kw-unreadable');
    const sim = openDevice(dir);
    let orphan: string;
    try {
      orphan = await sim.device.se.generate('ed25519', { usage: 'sign' });
    } finally {
      sim.close();
    }
    writeFileSync(join(dir, 'device-init.pending.json'), '{ not json', { mode: 0o600 });
    expect((await rerun(dir, 'kw-unreadable-svc')).code).toBe(0);
    expect(held(dir).map((k) => k.handle)).toContain(orphan);
  }, 60_000);
});
