import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientOf } from '../bin/commands/options.ts';
import { register } from '../bin/commands/device.ts';
import { openDevice } from '../bin/commands/device/simulator.ts';
import { readState, stateFile, writeState, type DeviceState } from '../bin/commands/device/state.ts';
import { operatorCommand, provision } from '../bin/commands/device/steps.ts';
import type { Io } from '../bin/io.ts';
import { runCommands } from '../bin/program.ts';
import { publicKeyFingerprint } from '../domain/crypto/fingerprint.ts';
import { toBase64url } from '../domain/crypto/base64url.ts';
import { startTestService, type TestService } from './support/service.ts';

// Found in review: when `device provision` could not write the device's state after the server recorded the new
// credential (disk full, a read-only folder, killed in between), the key made for it was named nowhere: a rerun
// neither used nor destroyed it, and the server held a credential whose key the device could not find. The key is now
// named in the state before the receipt is sent, and a rerun adopts it or destroys it by the server's fingerprint.

let service: TestService;
let root: string;
const operator = () => ({ url: service.url, token: service.tokens.operator });
beforeAll(async () => {
  service = await startTestService();
  root = mkdtempSync(join(tmpdir(), 'credence-device-provision-unsaved-'));
  const now = new Date();
  await operatorCommand(operator(), 'createSubscription', {
    subscriptionId: 'sub-pu', subscriber: 'City Utilities', notBefore: now.toISOString(), notAfter: new Date(now.getTime() + 365 * 86_400_000).toISOString(),
  });
}, 60_000);
afterAll(async () => {
  await service?.close();
  if (root !== undefined) rmSync(root, { recursive: true, force: true });
});

const device = async (argv: string[]) => {
  const lines: string[] = [];
  const io: Io = { out: (line) => void lines.push(line), err: (line) => void lines.push(line), env: {} };
  const code = await runCommands([register], ['device', ...argv], io);
  return { code, output: lines.join('\n') };
};

/** An initialised device of node `nodeId`, enrolled under sub-pu; its folder. */
const enrolledDevice = async (nodeId: string): Promise<string> => {
  const dir = join(root, nodeId);
  expect((await device(['init', '--node-id', nodeId, '--kind', 'ed25519', '--dir', dir, '--server', service.url, '--token', operator().token])).code).toBe(0);
  await operatorCommand(operator(), 'enrolNode', { nodeId, subscriptionId: 'sub-pu', cseId: `/${nodeId}-cse` });
  return dir;
};

/** Every key handle the state names, the pending run's among them. */
const named = (state: DeviceState): string[] =>
  [state.bootstrap.handle, ...state.credentials.map((c) => c.handle), ...(state.provisioning !== undefined ? [state.provisioning.handle] : [])].sort();

/** Every key the folder's Secure Environment holds, and its sealed material, read from its key database. */
const held = (dir: string): { handle: string; sealed: Buffer | null }[] => {
  const db = new Database(join(dir, 'secure-environment.sqlite'), { readonly: true });
  try {
    return db.prepare('SELECT handle, sealed FROM se_keys ORDER BY handle').all() as { handle: string; sealed: Buffer | null }[];
  } finally {
    db.close();
  }
};

const fingerprintOnServer = async (credentialId: string): Promise<unknown> =>
  ((await clientOf(operator()).entity('credential', credentialId)).context as { fingerprint?: unknown }).fingerprint;

/** Nothing secret in what the CLI said: neither the operator token nor any sealed key material. */
const expectNoSecret = (output: string, dir: string): void => {
  expect(output).not.toContain(operator().token);
  for (const { sealed } of held(dir)) {
    if (sealed === null || sealed.length === 0) continue;
    expect(output).not.toContain(toBase64url(sealed));
    expect(output).not.toContain(sealed.toString('hex'));
  }
};

describe('credence device provision, when the state cannot be written after the server recorded the credential', () => {
  it('says so naming the state file, and a rerun adopts the key the server recorded: one usable key, no orphan', async () => {
    const dir = await enrolledDevice('meter-pu');
    const sim = openDevice(dir);
    try {
      const save = sim.save.bind(sim);
      // The disk fills once the server has answered: any save of a state that holds the new credential fails.
      sim.save = () => {
        if (sim.device.credentials.has('meter-pu-svc')) throw new Error('no space left on device');
        save();
      };
      const run = provision(service.url, sim, { credentialId: 'meter-pu-svc', kind: 'ed25519' });
      await expect(run).rejects.toThrow(stateFile(dir));
    } finally {
      sim.close();
    }
    const recorded = await fingerprintOnServer('meter-pu-svc');
    expect(recorded).toEqual(expect.any(String));

    // Without a token the server cannot be asked: refused, naming the state file, the key kept.
    const unasked = await device(['provision', '--dir', dir, '--credential-id', 'meter-pu-svc', '--kind', 'ed25519', '--server', service.url]);
    expect(unasked.code).not.toBe(0);
    expect(unasked.output).toContain(stateFile(dir));
    expect(held(dir).map((k) => k.handle)).toEqual(named(readState(dir)));

    const rerun = await device(['provision', '--dir', dir, '--credential-id', 'meter-pu-svc', '--kind', 'ed25519', '--server', service.url, '--token', operator().token]);
    expect(rerun.code).toBe(0);
    const state = readState(dir);
    expect(state.provisioning).toBeUndefined();
    expect(state.credentials.map((c) => [c.credentialId, c.descriptor.fingerprint])).toEqual([['meter-pu-svc', recorded]]);
    expect(held(dir).map((k) => k.handle)).toEqual(named(state));
    // The key it names is the one the server bound the credential to.
    const adopted = openDevice(dir);
    try {
      const svc = state.credentials[0]!;
      const key = await adopted.device.se.describe(svc.handle);
      expect(publicKeyFingerprint('ed25519', key.publicKey!)).toBe(recorded);
    } finally {
      adopted.close();
    }
    expectNoSecret([unasked.output, rerun.output].join('\n'), dir);
  }, 60_000);

  it('destroys a pending key the server did not record, then provisions: one key for the credential, no orphan', async () => {
    const dir = await enrolledDevice('meter-pk');
    // A run killed after naming its key, before its receipt reached the server: the server recorded nothing.
    const sim = openDevice(dir);
    try {
      const handle = await sim.device.se.generate('ed25519', { usage: 'sign' });
      const publicKey = (await sim.device.se.describe(handle)).publicKey!;
      const descriptor = { ...sim.state.bootstrap.descriptor, publicKey: toBase64url(publicKey), fingerprint: publicKeyFingerprint('ed25519', publicKey) };
      writeState(dir, { ...sim.state, provisioning: { credentialId: 'meter-pk-svc', handle, descriptor } });
    } finally {
      sim.close();
    }
    const rerun = await device(['provision', '--dir', dir, '--credential-id', 'meter-pk-svc', '--kind', 'ed25519', '--server', service.url, '--token', operator().token]);
    expect(rerun.code).toBe(0);
    const state = readState(dir);
    expect(state.provisioning).toBeUndefined();
    expect(state.credentials.map((c) => [c.credentialId, c.descriptor.fingerprint])).toEqual([['meter-pk-svc', await fingerprintOnServer('meter-pk-svc')]]);
    expect(held(dir).map((k) => k.handle)).toEqual(named(state));
    expectNoSecret(rerun.output, dir);
  }, 60_000);
});
