/**
 * Review 187 (left open by the validation fix): the Secure Environment's ownership check (`requireHeldBy`: "key <handle>
 * belongs to another owner"; `requireServedOwner`) raised while a device step was served went to the device as a 403
 * `unauthorised` naming the service's key handle and its owner name, as though the device had been refused. A device
 * never authenticates by that check (it proves itself by its messages; its routes answer no 401 or 403): the
 * service's fault, 500 `internal` with no detail, logged at error with the handle; so is any `unauthorised` met there
 * (fail closed).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ServiceFaultAtDeviceStep, asDeviceAnswer } from '../adapters/http/routes/device-step-faults.ts';
import { fromBase64url } from '../domain/crypto/index.ts';
import { unauthorised } from '../domain/errors.ts';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import type { SimulatedDevice } from '../bin/commands/device/simulator.ts';
import { deviceServiceWorld, type DeviceServiceWorld } from './support/device-service.ts';
import { failNextServerCall, heldByAnother, ownerNotServed } from './support/server-se-fault.ts';

let world: DeviceServiceWorld;
let sim: SimulatedDevice;
beforeAll(async () => {
  world = await deviceServiceWorld();
  sim = await world.enrolledDevice('meter-seo', 'ed25519');
}, 60_000);
afterAll(async () => {
  await world?.close();
});
afterEach(() => {
  vi.restoreAllMocks();
});

const pinnedEf = () => {
  const { id, publicKey } = sim.state.pinned.enrolmentFunction;
  return { id, publicKey: { kind: publicKey.kind, bytes: fromBase64url(publicKey.publicKey) } };
};

const expectServiceFault = (answered: { status: number; body: Record<string, unknown> }, named: readonly string[]) => {
  expect(named).toHaveLength(1);
  expect(answered.status).toBe(500);
  expect(answered.body).toMatchObject({ status: 500, type: expect.stringMatching(/internal$/) });
  const text = JSON.stringify(answered.body);
  expect(text).not.toContain(named[0]);
  expect(text).not.toMatch(/another owner|maf:|unauthorised|Secure Environment|"actor"/);
  const logged = world.service.logs().filter((l) => l.includes(named[0]!)).map((l) => JSON.parse(l) as { level: number });
  expect(logged.length).toBeGreaterThan(0);
  expect(Math.max(...logged.map((l) => l.level))).toBeGreaterThanOrEqual(50);
};

describe('the Secure Environment\'s ownership check met while serving a device step', () => {
  it('at the hello\'s signing: 500 internal, not a 403 naming the handle; the handle in the log at error', async () => {
    const session = await sim.device.provisioningClient(pinnedEf()).start({ credentialKind: 'ed25519', credentialId: 'c-seo-hello' });
    const named = failNextServerCall('sign', heldByAnother);
    const answered = await world.post('/v1/enrolment/hello', session.hello);
    vi.restoreAllMocks();
    await session.abort();
    expectServiceFault(answered, named);
  });

  it('at the auth\'s key agreement (a PSK delivery), the owner not served: 500 internal, no owner name', async () => {
    const session = await sim.device.provisioningClient(pinnedEf()).start({ credentialKind: 'psk256', credentialId: 'c-seo-auth' });
    const challenge = await world.post('/v1/enrolment/hello', session.hello);
    expect(challenge.status).toBe(200);
    const auth = await session.acceptChallenge(challenge.body);
    const named = failNextServerCall('agree', (owner) => ownerNotServed(owner));
    const answered = await world.post('/v1/enrolment/auth', auth);
    vi.restoreAllMocks();
    await session.abort();

    expect(named).toHaveLength(1);
    expect(answered.status).toBe(500);
    expect(JSON.stringify(answered.body)).not.toMatch(/does not serve|maf:|unauthorised|"actor"/);
    expect(world.service.logs().some((l) => l.includes('"level":50') && l.includes('does not serve this owner'))).toBe(true);
  });

  it('at the receipt\'s signing: 500 internal, not a 403 naming the handle', async () => {
    const session = await sim.device.provisioningClient(pinnedEf()).start({ credentialKind: 'ed25519', credentialId: 'c-seo-receipt' });
    const auth = await session.acceptChallenge((await world.post('/v1/enrolment/hello', session.hello)).body);
    const { receipt } = await session.acceptDelivery((await world.post('/v1/enrolment/auth', auth)).body);
    const named = failNextServerCall('sign', heldByAnother);
    const answered = await world.post('/v1/enrolment/receipt', receipt);
    vi.restoreAllMocks();
    await session.abort();
    expectServiceFault(answered, named);
  });
});

describe('which `unauthorised` at a device step is the service\'s fault', () => {
  const handle = 'key_AAAAAAAAAAAAAAAAAAAAAAAA' as KeyHandle;

  it('both of the port\'s own refusals, as its checks word them', () => {
    expect(asDeviceAnswer(heldByAnother('maf:infrastructure', handle))).toBeInstanceOf(ServiceFaultAtDeviceStep);
    expect(asDeviceAnswer(ownerNotServed('maf:infrastructure'))).toBeInstanceOf(ServiceFaultAtDeviceStep);
  });

  it('any other `unauthorised` too: a device step answers none of its own', () => {
    for (const other of [
      unauthorised('bearer token', 'revoked'),
      unauthorised('maf:infrastructure', 'role operator may not revokeNode'),
    ]) expect(asDeviceAnswer(other)).toBeInstanceOf(ServiceFaultAtDeviceStep);
  });
});
