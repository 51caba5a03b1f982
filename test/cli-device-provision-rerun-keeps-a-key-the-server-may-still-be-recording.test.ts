import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readState, stateFile, type DeviceState } from '../bin/commands/device/state.ts';
import { provisioningDevices } from './support/provisioning-device.ts';
import type { TestService } from './support/service.ts';
import { answerWith, forwarded, standInProxy } from './support/stand-in-proxy.ts';

// Review 207: a receipt whose answer timed out leaves its key pending, and the CLI says to run `device provision`
// again with an operator token. Run again while the server was still recording the credential (its appends slow),
// the operator read answered 404, the device took that for "not recorded" and destroyed the key, and the server then
// recorded the credential `enrolled` on that key's fingerprint: a live credential whose key nobody holds. A pending
// key is now kept on a 404 (or `initialized`) until the server's run for it is surely over (its session timeout and
// a margin past the write-ahead), the run refused as an outcome not known, saying when to run again.
//
// Review 211: that wait was judged on the device's clock, so a clock jumped ahead between the write-ahead and the
// rerun (an hour, say) took the run for over, the 404 destroyed the key, and the server then recorded the credential
// on it all the same. The wait is judged on the server's clock now (its Date header at the write-ahead and at the
// rerun); the device's only when the server's time is not known.

const SUBSCRIPTION = 'sub-still-recording';
const { url, operator, testService, device, enrolledDevice, named, held: keysHeld, fingerprintOnServer } = provisioningDevices(SUBSCRIPTION);

/** Every key handle the folder's Secure Environment holds. */
const held = (dir: string): string[] => keysHeld(dir).map((k) => k.handle);

const RECEIPT = '/v1/enrolment/receipt';

/** The service's store holds each append to `streamId` back until `release()`: a server whose appends are slow. */
const appendsHeld = (service: TestService, streamId: string) => {
  const store = service.service.context.credence.store;
  const append = store.appendToStream.bind(store);
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  store.appendToStream = async (id, events, options) => {
    if (id === streamId) await released;
    return append(id, events, options);
  };
  return { release, restore: () => void (store.appendToStream = append) };
};

/** A stand-in in front of the service that never forwards the receipt: the server records nothing. */
const receiptLost = () =>
  standInProxy(async (req, res, body) => {
    if (req.url === RECEIPT) return req.socket.destroy();
    return answerWith(res, await forwarded(url(), req, body));
  });

const provisionArgs = (dir: string, credentialId: string, server: string) =>
  ['provision', '--dir', dir, '--credential-id', credentialId, '--kind', 'ed25519', '--server', server];

/**
 * A provision whose receipt's answer did not come back within 1 s, or whose connection was cut: its key named as
 * pending, exit 3 (the server not answering, as a finish's unknown outcome).
 */
const lostAnswer = async (dir: string, credentialId: string, server: string) => {
  const lost = await device([...provisionArgs(dir, credentialId, server), '--timeout', '1']);
  expect(lost.code).toBe(3);
  expect(lost.output).toContain('is not known');
  const pending = readState(dir).provisioning;
  expect(pending?.credentialId).toBe(credentialId);
  return { lost, pending: pending! };
};

/** A provision whose receipt never reached the server: its key named as pending, nothing recorded. */
const receiptNeverArrived = async (dir: string, credentialId: string) => {
  const proxy = await receiptLost();
  try {
    return (await lostAnswer(dir, credentialId, proxy.url)).pending;
  } finally {
    await proxy.close();
  }
};

/** Rewrites device.json's pending record through `edit` (a write-ahead written long ago, or by an earlier build). */
const editPending = (dir: string, edit: (pending: Record<string, unknown>) => void): void => {
  const file = JSON.parse(readFileSync(stateFile(dir), 'utf8')) as { provisioning: Record<string, unknown> };
  edit(file.provisioning);
  writeFileSync(stateFile(dir), `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
};

const withToken = () => ['--token', operator().token];

/** Waits until `check` holds, or fails after `ms`. */
const eventually = async (check: () => Promise<boolean>, ms = 15_000): Promise<void> => {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('never came true');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
};

/** A rerun with the operator token adopts `credentialId` on the kept key `handle`: named as the credential's, nothing pending, no other key held. */
const expectRerunAdopts = async (dir: string, credentialId: string, handle: string): Promise<void> => {
  const adopt = await device([...provisionArgs(dir, credentialId, url()), ...withToken()]);
  expect(adopt.output).toContain(`credential ${credentialId} adopted`);
  expect(adopt.code).toBe(0);
  const state = readState(dir);
  expect(state.provisioning).toBeUndefined();
  expect(state.credentials.map((c) => c.handle)).toEqual([handle]);
  expect(held(dir)).toEqual(named(state));
};

/**
 * A provisioning of `name`'s credential whose answer was lost while the server's appends for it are held back, run
 * again (after `beforeRerun`, say a clock that moved) while the server has recorded nothing yet; then the appends land,
 * recording the credential on the pending key's fingerprint. The rerun's outcome and the pending record.
 */
const rerunWhileTheServerIsStillRecording = async (
  name: string,
  beforeRerun: (dir: string, pending: NonNullable<DeviceState['provisioning']>) => void = () => undefined,
): Promise<{ dir: string; credentialId: string; rerun: { code: number; output: string }; pending: NonNullable<DeviceState['provisioning']> }> => {
  const dir = await enrolledDevice(name);
  const credentialId = `${name}-svc`;
  const slow = appendsHeld(testService(), `credential-${credentialId}`);
  try {
    const { pending } = await lostAnswer(dir, credentialId, url());
    // The server has not recorded it yet: the operator read answers not_found.
    expect(await fingerprintOnServer(credentialId)).toBeUndefined();
    beforeRerun(dir, pending!);
    const rerun = await device([...provisionArgs(dir, credentialId, url()), ...withToken()]);
    // Then the slow appends land: the credential is enrolled on the pending key's fingerprint.
    slow.release();
    await eventually(async () => (await fingerprintOnServer(credentialId)) !== undefined);
    expect(await fingerprintOnServer(credentialId)).toBe(pending!.descriptor.fingerprint);
    return { dir, credentialId, rerun, pending: pending! };
  } finally {
    slow.release();
    slow.restore();
  }
};

describe('credence device provision run again while the server may still be recording the earlier run', () => {
  it('keeps the pending key on a 404 and says when to run again; the server then records it on that key, and a rerun adopts it', async () => {
    const { dir, credentialId, rerun, pending } = await rerunWhileTheServerIsStillRecording('sr-slow');
    expect(rerun.output).not.toContain(operator().token);
    // The key the server binds the credential to is still held, and named as pending.
    expect(held(dir)).toContain(pending.handle);
    expect(readState(dir).provisioning?.handle).toBe(pending.handle);
    expect(rerun.code).toBe(1);
    expect(rerun.output).toContain('may still be recording');
    expect(rerun.output).toMatch(/run device provision again after \d{4}-\d\d-\d\dT/);

    await expectRerunAdopts(dir, credentialId, pending.handle);
  }, 60_000);

  it('a device clock jumped an hour ahead at the rerun: the 404 keeps the key (judged on the server\'s clock), and the credential the server then records is adopted', async () => {
    const { dir, credentialId, rerun, pending } = await rerunWhileTheServerIsStillRecording('sr-ahead', (folder, written) => {
      expect(written.serverWrittenAt).toBeDefined();
      // The device's clock jumps an hour ahead (its write-ahead's time an hour behind what it reads now): by it
      // alone, the earlier run is long over; the server's clock has moved by seconds.
      editPending(folder, (p) => (p['writtenAt'] = new Date(Date.parse(String(p['writtenAt'])) - 3_600_000).toISOString()));
    });
    expect(held(dir)).toContain(pending.handle);
    expect(readState(dir).provisioning?.handle).toBe(pending.handle);
    expect(rerun.code).toBe(1);
    expect(rerun.output).toContain('may still be recording');
    expect(rerun.output).toContain("by the server's clock");

    // The device's clock still an hour ahead: the credential the server recorded on the kept key is adopted.
    await expectRerunAdopts(dir, credentialId, pending.handle);
  }, 60_000);

  it('says so in --json too; once the run is surely over, a 404 destroys the key and the rerun provisions anew', async () => {
    const dir = await enrolledDevice('sr-lost');
    const credentialId = 'sr-lost-svc';
    const pending = await receiptNeverArrived(dir, credentialId);
    expect(pending.writtenAt).toBeDefined();
    const early = await device([...provisionArgs(dir, credentialId, url()), ...withToken(), '--json']);
    expect(early.code).toBe(1);
    expect(early.output).toContain('may still be recording');
    expect(early.output).toContain('provision-may-still-be-recording');
    expect(held(dir)).toContain(pending.handle);

    // The write-ahead an hour ago on both clocks: the server's run for it is over, and it recorded nothing.
    editPending(dir, (p) => (p['writtenAt'] = p['serverWrittenAt'] = new Date(Date.now() - 3_600_000).toISOString()));
    const late = await device([...provisionArgs(dir, credentialId, url()), ...withToken()]);
    expect(late.output).toContain(`credential ${credentialId} provisioned`);
    expect(late.code).toBe(0);
    const state = readState(dir);
    expect(state.provisioning).toBeUndefined();
    expect(held(dir)).not.toContain(pending.handle);
    expect(held(dir)).toEqual(named(state));
  }, 60_000);

  it('a pending record an earlier build wrote (no time) is read, its key kept and the server\'s time stamped for the next run', async () => {
    const dir = await enrolledDevice('sr-older');
    const credentialId = 'sr-older-svc';
    const pending = await receiptNeverArrived(dir, credentialId);
    editPending(dir, (p) => {
      delete p['writtenAt'];
      delete p['serverWrittenAt'];
    });
    const before = Date.now();
    const rerun = await device([...provisionArgs(dir, credentialId, url()), ...withToken()]);
    expect(rerun.code).toBe(1);
    expect(rerun.output).toContain('may still be recording');
    expect(rerun.output).toContain("by the server's clock");
    const kept = readState(dir).provisioning;
    expect(kept?.handle).toBe(pending.handle);
    expect(Date.parse(kept!.serverWrittenAt!)).toBeGreaterThanOrEqual(before - 2000);
    expect(held(dir)).toContain(pending.handle);
  }, 60_000);

  it('a record written when the server\'s time was not known is judged on the device\'s clock, and the refusal says so', async () => {
    const dir = await enrolledDevice('sr-no-date');
    const credentialId = 'sr-no-date-svc';
    const pending = await receiptNeverArrived(dir, credentialId);
    editPending(dir, (p) => delete p['serverWrittenAt']);
    // A stand-in that drops the Date header of every answer: the server's time is not known at the rerun either.
    const noDate = await standInProxy(async (req, res, body) => {
      res.sendDate = false;
      return answerWith(res, await forwarded(url(), req, body));
    });
    try {
      const rerun = await device([...provisionArgs(dir, credentialId, noDate.url), '--token', operator().token]);
      expect(rerun.code).toBe(1);
      expect(rerun.output).toContain("by this device's clock (the server's time is not known");
      expect(readState(dir).provisioning?.serverWrittenAt).toBeUndefined();
      expect(held(dir)).toContain(pending.handle);
    } finally {
      await noDate.close();
    }
  }, 60_000);
});
