import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { openDevice } from '../bin/commands/device/simulator.ts';
import { readState, stateFile, type DeviceState, type HeldAssociation } from '../bin/commands/device/state.ts';
import { provisioningDevices } from './support/provisioning-device.ts';

// Review 207: `device provision` and `device associate` dropped, before every run, the credentials and associations
// the device's own clock said had ended, and destroyed their keys, saying nothing. A device clock jumped far ahead (an
// RTC glitch) so destroyed the keys of every credential and association the server holds live. An entry the device's
// clock says ended is now dropped only when device.json has no room left for the one a run adds (its bound, review
// 183), and each one dropped is named on stderr, by id, with why.

const { url, operator, device, enrolledDevice, held } = provisioningDevices('sub-device-clock');

const LIMIT = 1_000;

/** Every key handle the state names, session keys included. */
const named = (state: DeviceState): string[] =>
  [state.bootstrap.handle, ...state.credentials.map((c) => c.handle), ...state.associations.flatMap((a) => [a.sessionKeys.send, a.sessionKeys.receive])].sort();

/** device.json rewritten through `edit`: what a device whose clock runs far ahead judges, seen from the right clock. */
const editState = (dir: string, edit: (state: DeviceState) => DeviceState): void =>
  writeFileSync(stateFile(dir), `${JSON.stringify(edit(JSON.parse(readFileSync(stateFile(dir), 'utf8')) as DeviceState), null, 2)}\n`, { mode: 0o600 });

const DAY = 86_400_000;
const ago = (ms: number): string => new Date(Date.now() - ms).toISOString();

const provision = (dir: string, credentialId: string) =>
  device(['provision', '--dir', dir, '--credential-id', credentialId, '--kind', 'ed25519', '--server', url()]);

const associate = (dir: string, associationId: string, credentialId: string) =>
  device(['associate', '--dir', dir, '--association-id', associationId, '--credential-id', credentialId, '--server', url(), '--token', operator().token]);

describe('a device whose own clock says its entries ended, with room left in device.json', () => {
  it('device provision keeps a credential the server holds live, and its key, and says nothing of dropping', async () => {
    const dir = await enrolledDevice('dc-cred');
    expect((await provision(dir, 'dc-cred-a')).code).toBe(0);
    // By the device's clock (a day ahead of the credential's end), dc-cred-a has expired; the server holds it enrolled.
    editState(dir, (s) => ({
      ...s,
      credentials: s.credentials.map((c) => ({ ...c, descriptor: { ...c.descriptor, validity: { notBefore: ago(2 * DAY), notAfter: ago(DAY) } } })),
    }));
    const kept = readState(dir).credentials[0]!;
    const run = await provision(dir, 'dc-cred-b');
    expect(run.code).toBe(0);
    expect(run.output).not.toContain('dropped');
    const state = readState(dir);
    expect(state.credentials.map((c) => c.credentialId).sort()).toEqual(['dc-cred-a', 'dc-cred-b']);
    expect(held(dir).map((k) => k.handle)).toContain(kept.handle);
    expect(held(dir).map((k) => k.handle)).toEqual(named(state));
  }, 60_000);

  it('device associate keeps an association the Registrar holds live, and its session keys, and says nothing of dropping', async () => {
    const dir = await enrolledDevice('dc-assoc');
    expect((await provision(dir, 'dc-assoc-svc')).code).toBe(0);
    expect((await associate(dir, 'dc-assoc-1', 'dc-assoc-svc')).code).toBe(0);
    // By the device's clock, dc-assoc-1 has ended; the Registrar holds it associated.
    editState(dir, (s) => ({ ...s, associations: s.associations.map((a) => ({ ...a, establishedAt: ago(2 * DAY), expiresAt: ago(DAY) })) }));
    const { sessionKeys } = readState(dir).associations[0]!;
    const run = await associate(dir, 'dc-assoc-2', 'dc-assoc-svc');
    expect(run.code).toBe(0);
    expect(run.output).not.toContain('dropped');
    const state = readState(dir);
    expect(state.associations.map((a) => a.associationId).sort()).toEqual(['dc-assoc-1', 'dc-assoc-2']);
    expect(held(dir).map((k) => k.handle)).toEqual(expect.arrayContaining([sessionKeys.send, sessionKeys.receive]));
    expect(held(dir).map((k) => k.handle)).toEqual(named(state));
  }, 60_000);
});

/** A handle of the right shape that no Secure Environment holds. */
const absentHandle = (i: number, side: string): KeyHandle => `key_${side}${String(i).padStart(23, '0')}` as KeyHandle;

describe('a device whose state holds the most associations it keeps, some ended by its clock', () => {
  it('device associate drops those ended, and says on stderr which (ids only) and why', async () => {
    const dir = await enrolledDevice('dc-full');
    const credentialId = 'dc-full-svc';
    expect((await provision(dir, credentialId)).code).toBe(0);
    const sim = openDevice(dir);
    try {
      const associations: HeldAssociation[] = [];
      for (let i = 0; i < LIMIT; i++) {
        // The first two ended by the device's clock, keys held; the rest live.
        const ended = i < 2;
        const sessionKeys = ended
          ? { send: await sim.device.se.generate('psk256'), receive: await sim.device.se.generate('psk256') }
          : { send: absentHandle(i, 's'), receive: absentHandle(i, 'r') };
        associations.push({
          associationId: `dc-full-old-${i}`, credentialId, registrarId: '/in-cse', registreeId: '/dc-full-cse', sessionKeys, transcriptHash: 'a'.repeat(64),
          establishedAt: ago(2 * DAY), expiresAt: ended ? ago(DAY) : new Date(Date.now() + DAY).toISOString(),
        });
      }
      sim.state = { ...sim.state, associations };
      sim.save();
    } finally {
      sim.close();
    }
    const run = await associate(dir, 'dc-full-sa', credentialId);
    expect(run.output).toContain('association dc-full-sa established');
    expect(run.code).toBe(0);
    const line = run.output.split('\n').find((l) => l.includes('dropped'));
    expect(line).toBeDefined();
    expect(line).toContain('dc-full-old-0');
    expect(line).toContain('dc-full-old-1');
    expect(line).not.toContain('dc-full-old-2');
    expect(line).toContain("this device's clock");
    expect(line).toContain(stateFile(dir));
    expect(line).not.toMatch(/key_/);
    const state = readState(dir);
    expect(state.associations).toHaveLength(LIMIT - 1);
    expect(state.associations.map((a) => a.associationId)).not.toContain('dc-full-old-0');
  }, 120_000);
});
