/**
 * Review 187 (left open by the validation fix): the Secure Environment's ownership check (`requireHeldBy`: "key <handle>
 * belongs to another owner"; `requireServedOwner`) raised while a device step was served went to the device as a 403
 * `unauthorised` naming the service's key handle and its owner name, as though the device had been refused. A device
 * never authenticates by that check (it proves itself by its messages; its routes answer no 401 or 403): the
 * service's fault, 500 `internal` with no detail, logged at error with the handle; so is any `unauthorised` met there
 * (fail closed).
 */
import { describe, expect, it, vi } from 'vitest';
import { ServiceFaultAtDeviceStep, asDeviceAnswer } from '../adapters/http/routes/device-step-faults.ts';
import { unauthorised } from '../domain/errors.ts';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { pinnedEf, useEnrolledDevice } from './support/enrolled-device-world.ts';
import { expectServiceFault, failNextServerCall, heldByAnother, ownerNotServed } from './support/server-se-fault.ts';

const served = useEnrolledDevice('meter-seo');

/** The ownership refusal's words, none of which the device is told. */
const OWNERSHIP = /another owner|maf:|unauthorised|Secure Environment|"actor"/;

describe('the Secure Environment\'s ownership check met while serving a device step', () => {
  it('at the hello\'s signing: 500 internal, not a 403 naming the handle; the handle in the log at error', async () => {
    const session = await served.sim.device.provisioningClient(pinnedEf(served.sim)).start({ credentialKind: 'ed25519', credentialId: 'c-seo-hello' });
    const named = failNextServerCall('sign', heldByAnother);
    const answered = await served.world.post('/v1/enrolment/hello', session.hello);
    vi.restoreAllMocks();
    await session.abort();
    expectServiceFault(served.world, answered, named, OWNERSHIP, 50);
  });

  it('at the auth\'s key agreement (a PSK delivery), the owner not served: 500 internal, no owner name', async () => {
    const session = await served.sim.device.provisioningClient(pinnedEf(served.sim)).start({ credentialKind: 'psk256', credentialId: 'c-seo-auth' });
    const challenge = await served.world.post('/v1/enrolment/hello', session.hello);
    expect(challenge.status).toBe(200);
    const auth = await session.acceptChallenge(challenge.body);
    const named = failNextServerCall('agree', (owner) => ownerNotServed(owner));
    const answered = await served.world.post('/v1/enrolment/auth', auth);
    vi.restoreAllMocks();
    await session.abort();

    expect(named).toHaveLength(1);
    expect(answered.status).toBe(500);
    expect(JSON.stringify(answered.body)).not.toMatch(/does not serve|maf:|unauthorised|"actor"/);
    expect(served.world.service.logs().some((l) => l.includes('"level":50') && l.includes('does not serve this owner'))).toBe(true);
  });

  it('at the receipt\'s signing: 500 internal, not a 403 naming the handle', async () => {
    const session = await served.sim.device.provisioningClient(pinnedEf(served.sim)).start({ credentialKind: 'ed25519', credentialId: 'c-seo-receipt' });
    const auth = await session.acceptChallenge((await served.world.post('/v1/enrolment/hello', session.hello)).body);
    const { receipt } = await session.acceptDelivery((await served.world.post('/v1/enrolment/auth', auth)).body);
    const named = failNextServerCall('sign', heldByAnother);
    const answered = await served.world.post('/v1/enrolment/receipt', receipt);
    vi.restoreAllMocks();
    await session.abort();
    expectServiceFault(served.world, answered, named, OWNERSHIP, 50);
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
