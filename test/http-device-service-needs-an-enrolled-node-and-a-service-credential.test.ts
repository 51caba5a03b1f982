import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { associateOverHttp, httpDeviceTransport, provisionOverHttp } from '../adapters/client/device/index.ts';
import { openDevice } from '../bin/commands/device/simulator.ts';
import { operatorCommand } from '../bin/commands/device/steps.ts';
import { factory } from '../bin/commands/device/factory.ts';
import { deviceServiceWorld, type DeviceServiceWorld } from './support/device-service.ts';
import { forge } from './replay.fixtures.ts';
import { placeholderKey } from './support/fleet.ts';

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

  it('refuses an association on the credential the node registered with, whatever purpose it was issued under', async () => {
    const now = Date.now();
    const validity = { notBefore: new Date(now - 60_000).toISOString(), notAfter: new Date(now + 86_400_000).toISOString() };
    await operatorCommand(world.operator, 'registerNode', { nodeId: 'v1', profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: ['metering'] }, bootstrapCredentialId: 'v1-boot' });
    const issue = { credentialId: 'v1-boot', kind: 'ed25519', ...placeholderKey('v1-boot'), purpose: 'service', owner: { kind: 'node', id: 'v1' }, ...validity };
    // Since review 290 the id a node registered with is issued to it only as its bootstrap (bootstrapNamedByItsNode), so
    // such a credential is one a store of machines v10 holds: its issue as that version recorded it, straight into the store.
    await expect(operatorCommand(world.operator, 'issueCredential', issue)).rejects.toMatchObject({ problem: expect.objectContaining({ rule: 'bootstrapNamedByItsNode' }) });
    await forge(world.service.service.context.credence.store, 'credential-v1-boot', 'CredentialIssued', issue, validity.notBefore);
    await operatorCommand(world.operator, 'provisionCredential', { credentialId: 'v1-boot', method: 'pre-provisioning' });
    await operatorCommand(world.operator, 'enrolNode', { nodeId: 'v1', subscriptionId: 'sub-1', cseId: '/v1-cse' });
    const before = await world.head();
    await expect(
      operatorCommand(world.operator, 'configureAssociation', { associationId: 'v1-sa', nodeId: 'v1', credentialId: 'v1-boot', registree: { kind: 'cse', id: '/v1-cse' }, registrarCseId: '/in-cse' }),
    ).rejects.toMatchObject({ problem: expect.objectContaining({ rule: 'credentialNotBootstrap' }) });
    expect(ownStreams(await world.streamsWrittenSince(before))).toEqual([]);
  });

  it('refuses remote provisioning and the association handshake under a terminated subscription while the cascade has not ended the enrolment yet', async () => {
    const sim = await world.enrolledDevice('t-1', 'ed25519');
    // t-2 provisioned and its association configured while the subscription is active.
    const sim2 = await world.enrolledDevice('t-2', 'ed25519');
    const transport = httpDeviceTransport(world.service.url);
    await provisionOverHttp(transport, sim2.device, { credentialId: 't-2-svc', kind: 'ed25519', enrolmentFunction: sim2.state.pinned.enrolmentFunction });
    await world.configure('t-2-sa', sim2, 't-2-svc');
    await world.service.service.context.live.stop(); // the cascade lags: the nodes are still enrolled
    await operatorCommand(world.operator, 'terminateSubscription', { subscriptionId: 'sub-1', reason: 'contract ended' });
    const before = await world.head();
    await expect(
      provisionOverHttp(httpDeviceTransport(world.service.url), sim.device, { credentialId: 't-1-svc', kind: 'ed25519', enrolmentFunction: sim.state.pinned.enrolmentFunction }),
    ).rejects.toMatchObject({ problem: { status: 400, errors: [expect.objectContaining({ path: 'nodeId', rule: 'enrolled' })] } });
    // Found in review of that check: the Registrar completed the handshake of t-2's association meanwhile.
    await expect(
      associateOverHttp(transport, sim2.device, { associationId: 't-2-sa', credentialId: 't-2-svc', lifetimeSeconds: 3_600, registrar: sim2.state.pinned.registrar }),
    ).rejects.toThrow();
    expect(ownStreams(await world.streamsWrittenSince(before))).toEqual([]);
  });
});
