/**
 * Review 187 (follow-up at the device routes): a Secure Environment `validation` about a key of the server's own (a
 * PKCS#11 `handle`/`host_key` naming the handle, `token`/`ec_point`, ...) raised while a device step was served went
 * through `answerDevice` to mapRaisedError, where every `validation` is 400 with its detail: the device was told,
 * as its own mistake, the server key's handle and what its token did, and a real run (whose keys are used) could be
 * answered otherwise than a decoy (SER-001). Now such a fault is the service's: 500 `internal`, the detail in the
 * service's log only; a device's own refusal (an id it named, taken) stays its 400.
 */
import { describe, expect, it, vi } from 'vitest';
import { pkcs11Problem } from '../adapters/driven/secure-environment/pkcs11/module.ts';
import { pinnedEf, useEnrolledDevice } from './support/enrolled-device-world.ts';
import { expectServiceFault, failNextServerCall, hostKey } from './support/server-se-fault.ts';

const served = useEnrolledDevice('meter-sef');

const ecPoint = () => pkcs11Problem('token', 'ec_point', "the token's ephemeral P-256 public key for the host transfer key is not a point on the curve");

describe('a Secure Environment validation about a key of the service\'s own, met while serving a device step', () => {
  it('at the hello\'s signing: 500 internal, no handle, no Secure Environment words; its detail in the log at error', async () => {
    const session = await served.sim.device.provisioningClient(pinnedEf(served.sim)).start({ credentialKind: 'ed25519', credentialId: 'c-sef-sign' });
    const named = failNextServerCall('sign', hostKey);
    const answered = await served.world.post('/v1/enrolment/hello', session.hello);
    vi.restoreAllMocks();
    await session.abort();

    expectServiceFault(served.world, answered, named, /host_key|x-derivation|Secure Environment|"errors"/, 40);
  });

  it('at the auth\'s key agreement (a PSK delivery): 500 internal, not the device\'s 400 nor its invalid_ephemeral_key', async () => {
    const session = await served.sim.device.provisioningClient(pinnedEf(served.sim)).start({ credentialKind: 'psk256', credentialId: 'c-sef-agree' });
    const challenge = await served.world.post('/v1/enrolment/hello', session.hello);
    expect(challenge.status).toBe(200);
    const auth = await session.acceptChallenge(challenge.body);
    const named = failNextServerCall('agree', ecPoint);
    const answered = await served.world.post('/v1/enrolment/auth', auth);
    vi.restoreAllMocks();
    await session.abort();

    expect(named).toHaveLength(1);
    expect(answered.status).toBe(500);
    expect(JSON.stringify(answered.body)).not.toMatch(/ec_point|token|Secure Environment|"errors"/);
    expect(served.world.service.logs().some((l) => l.includes('"level":50') && l.includes('is not a point on the curve'))).toBe(true);
  });

  it('a device\'s own refusal stays its 400 naming the field (a credential id taken, told at auth)', async () => {
    const first = await served.sim.device.provisioningClient(pinnedEf(served.sim)).start({ credentialKind: 'ed25519', credentialId: 'meter-sef-boot' });
    const auth = await first.acceptChallenge((await served.world.post('/v1/enrolment/hello', first.hello)).body);
    const refused = await served.world.post('/v1/enrolment/auth', auth);
    await first.abort();
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ errors: [{ path: 'credentialId', rule: 'unused' }] });
  });
});
