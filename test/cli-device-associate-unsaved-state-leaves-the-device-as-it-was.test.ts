import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register } from '../bin/commands/device.ts';
import { openDevice } from '../bin/commands/device/simulator.ts';
import { readState, type DeviceState } from '../bin/commands/device/state.ts';
import { associate, operatorCommand } from '../bin/commands/device/steps.ts';
import type { Io } from '../bin/io.ts';
import { runCommands } from '../bin/program.ts';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { startTestService, type TestService } from './support/service.ts';

// Found in review: a new handshake for an association destroyed the keys of the earlier one before the state was
// written; when the write failed, the state on disk named destroyed keys and the new keys were named nowhere.

let service: TestService;
let root: string;
beforeAll(async () => {
  service = await startTestService();
  root = mkdtempSync(join(tmpdir(), 'credence-device-unsaved-'));
}, 60_000);
afterAll(async () => {
  await service?.close();
  if (root !== undefined) rmSync(root, { recursive: true, force: true });
});

const device = async (argv: string[]) => {
  const io: Io = { out: () => {}, err: () => {}, env: {} };
  return runCommands([register], ['device', ...argv], io);
};

/** Every key handle the state names. */
const named = (state: DeviceState): string[] =>
  [state.bootstrap.handle, ...state.credentials.map((c) => c.handle), ...state.associations.flatMap((a) => [a.sessionKeys.send, a.sessionKeys.receive])].sort();

/** Every key the folder's Secure Environment holds, read from its key database. */
const held = (dir: string): string[] => {
  const db = new Database(join(dir, 'secure-environment.sqlite'), { readonly: true });
  try {
    return (db.prepare('SELECT handle FROM se_keys').all() as { handle: string }[]).map((r) => r.handle).sort();
  } finally {
    db.close();
  }
};

describe('credence device associate, when the state cannot be written after the handshake', () => {
  it('leaves the device as it was: the state names exactly the keys its Secure Environment holds, the earlier session keys among them', async () => {
    const dir = join(root, 'meter-unsaved');
    const operator = { url: service.url, token: service.tokens.operator };
    const now = new Date();
    await operatorCommand(operator, 'createSubscription', {
      subscriptionId: 'sub-unsaved', subscriber: 'City Utilities', notBefore: now.toISOString(), notAfter: new Date(now.getTime() + 365 * 86_400_000).toISOString(),
    });
    expect(await device(['init', '--node-id', 'meter-unsaved', '--kind', 'ed25519', '--dir', dir, '--server', service.url, '--token', operator.token])).toBe(0);
    await operatorCommand(operator, 'enrolNode', { nodeId: 'meter-unsaved', subscriptionId: 'sub-unsaved', cseId: '/meter-unsaved-cse' });
    expect(await device(['provision', '--dir', dir, '--credential-id', 'meter-unsaved-svc', '--kind', 'ed25519', '--server', service.url])).toBe(0);

    const sim = openDevice(dir);
    let earlier: { send: KeyHandle; receive: KeyHandle };
    try {
      // Session keys of an earlier handshake for meter-unsaved-sa (one the server has since forgotten, say), saved.
      earlier = { send: await sim.device.se.generate('psk256'), receive: await sim.device.se.generate('psk256') };
      sim.state = {
        ...sim.state,
        associations: [{
          associationId: 'meter-unsaved-sa', credentialId: 'meter-unsaved-svc', registrarId: '/in-cse', registreeId: '/meter-unsaved-cse', sessionKeys: earlier,
          transcriptHash: 'a'.repeat(64), establishedAt: now.toISOString(), expiresAt: new Date(now.getTime() + 3_600_000).toISOString(),
        }],
      };
      sim.save();
      sim.save = () => {
        throw new Error('no space left on device');
      };
      const run = associate(service.url, sim, { associationId: 'meter-unsaved-sa', credentialId: 'meter-unsaved-svc', lifetimeSeconds: 3600, configureWith: operator });
      await expect(run).rejects.toThrow(/no space left on device/);
      expect(sim.state.associations.map((a) => a.sessionKeys)).toEqual([earlier]);
    } finally {
      sim.close();
    }
    const state = readState(dir);
    expect(state.associations.map((a) => a.sessionKeys)).toEqual([earlier]);
    expect(held(dir)).toEqual(named(state));
  }, 60_000);
});
