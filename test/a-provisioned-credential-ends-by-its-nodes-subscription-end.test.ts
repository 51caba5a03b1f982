import { afterEach, describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { pkiWorld } from './pki-issuance-fixtures.ts';
import { at, operator, profile, T0 } from './support/fleet.ts';

/*
 * Seed 003 11.2.1 ("credentials … with an associated lifetime (e.g. corresponding to the duration of the contractual
 * agreement embodied by the M2M service subscription)"), review 195: a node whose subscription ended on 2026-01-03 was
 * provisioned a credential valid to 2027-01-01, its certificate to 2026-12-31: a relying party not reading the CRL
 * took it as valid after the contract ended. The granted validity is now cut to the subscription's end, past the
 * node's proof (the challenge still offers every node the same lifetime: it answers a hello no one has authenticated).
 */
let world: Awaited<ReturnType<typeof pkiWorld>> | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

/** meter-1 registered with a factory key and enrolled under sub-short, which ends at `notAfter`. */
const enrolledUnder = async (w: NonNullable<typeof world>, notAfter: string) => {
  await w.credence.engine.execute({ type: 'createSubscription', data: { subscriptionId: 'sub-short', subscriber: 'City Utilities', notBefore: T0, notAfter }, metadata: { actor: operator } });
  const device = w.device('meter-1');
  await w.procedures.preProvision({ device, profile, bootstrapCredentialId: 'meter-1-boot', kind: 'ed25519', validity: { notBefore: T0, notAfter: at(5 * 365) } });
  await w.credence.engine.execute({ type: 'enrolNode', data: { nodeId: 'meter-1', subscriptionId: 'sub-short', cseId: '/meter-1-cse' }, metadata: { actor: operator } });
  return device;
};

describe('a credential provisioned remotely ends by its node\'s subscription end (seed 003 11.2.1)', () => {
  it('is granted to the subscription\'s end, its certificate to the last second before it, and the node holds that', async () => {
    world = await pkiWorld('ed25519');
    const device = await enrolledUnder(world, at(2));
    await world.procedures.provisionRemotely({ device, credentialId: 'meter-1-svc', kind: 'p256' });
    const issued = await world.issued('meter-1-svc');
    expect(issued).toMatchObject({ notBefore: T0, notAfter: at(2) });
    expect(issued.certificate?.notAfter).toBe(new Date(Date.parse(at(2)) - 1000).toISOString());
    expect(device.credentials.get('meter-1-svc')!.descriptor.validity).toEqual({ notBefore: T0, notAfter: at(2) });
  });

  it('a PSK is granted alike', async () => {
    world = await pkiWorld('ed25519');
    const device = await enrolledUnder(world, at(2));
    await world.procedures.provisionRemotely({ device, credentialId: 'meter-1-svc', kind: 'psk256' });
    expect(await world.issued('meter-1-svc')).toMatchObject({ notBefore: T0, notAfter: at(2) });
  });

  it('a subscription ending after the credential lifetime leaves the lifetime as configured', async () => {
    world = await pkiWorld('ed25519');
    const device = await enrolledUnder(world, at(2 * 365));
    await world.procedures.provisionRemotely({ device, credentialId: 'meter-1-svc', kind: 'p256' });
    expect(await world.issued('meter-1-svc')).toMatchObject({ notBefore: T0, notAfter: at(365) });
  });

  it('a subscription with no whole second left is refused lifetime_exhausted at the auth, nothing recorded', async () => {
    world = await pkiWorld('ed25519');
    const device = await enrolledUnder(world, new Date(Date.parse(T0) + 500).toISOString());
    const refused = await world.procedures.provisionRemotely({ device, credentialId: 'meter-1-svc', kind: 'p256' }).catch((e: unknown) => e);
    expect(isCredenceError(refused, 'protocol') && refused.problem).toMatchObject({ step: 'provisioning.auth', reason: 'lifetime_exhausted' });
    expect((await world.credence.engine.entity('credential', 'meter-1-svc')).events).toHaveLength(0);
  });
});
