import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpDeviceTransport, provisionOverHttp } from '../adapters/client/device/index.ts';
import { openDevice } from '../bin/commands/device/simulator.ts';
import { factory } from '../bin/commands/device/steps.ts';
import { deviceServiceWorld, type DeviceServiceWorld } from './support/device-service.ts';

/*
 * Found in review of the device-facing surface. Seed 003, 11.2.1: "M2M service provisioning assumes the existence
 * of an M2M service subscription", yet a node registered at the factory and never enrolled provisioned itself a
 * service credential. Seed 003, 11.3.2: a security association is authenticated with the credentials the enrolment
 * procedures result in, yet one was configured, and its handshake completed, on the node's bootstrap credential.
 */
describe('the service a device reaches', () => {
  let world: DeviceServiceWorld;
  beforeAll(async () => {
    world = await deviceServiceWorld();
  }, 60_000);
  afterAll(() => world?.close());
  const ownStreams = (streams: string[]) => streams.filter((s) => !s.startsWith('pseudonym-'));

  it('refuses remote provisioning to a node not enrolled under a subscription, naming the rule, and records nothing', async () => {
    const dir = join(world.devicesDir, 'never-enrolled');
    await factory(world.operator, {
      dir, nodeId: 'never-enrolled', kind: 'ed25519', bootstrapCredentialId: 'never-enrolled-boot', validForSeconds: 86_400,
      profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: ['metering'] },
    });
    const sim = openDevice(dir);
    try {
      const before = await world.head();
      const refused = provisionOverHttp(httpDeviceTransport(world.service.url), sim.device, {
        credentialId: 'never-enrolled-svc', kind: 'ed25519', enrolmentFunction: sim.state.pinned.enrolmentFunction,
      });
      await expect(refused).rejects.toMatchObject({ problem: { status: 400, errors: [expect.objectContaining({ path: 'nodeId', rule: 'enrolled' })] } });
      expect(ownStreams(await world.streamsWrittenSince(before))).toEqual([]);
      expect(await world.get<{ state: string }>('/v1/entities/credential/never-enrolled-svc').catch(() => undefined)).toBeUndefined();
    } finally {
      sim.close();
    }
  });

  it('refuses an association on the node\'s bootstrap credential (rule credentialNotBootstrap), writing nothing', async () => {
    const sim = await world.enrolledDevice('boot-assoc', 'ed25519');
    const before = await world.head();
    await expect(world.configure('boot-assoc-sa', { ...sim, device: { ...sim.device, cseId: '/boot-assoc-cse' } } as typeof sim, 'boot-assoc-boot')).rejects.toMatchObject({
      problem: expect.objectContaining({ rule: 'credentialNotBootstrap' }),
    });
    expect(ownStreams(await world.streamsWrittenSince(before))).toEqual([]);
  });
});
