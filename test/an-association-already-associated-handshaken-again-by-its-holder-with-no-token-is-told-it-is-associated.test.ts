/**
 * Review 161 (1): a Registree that proved it holds its credential was told `association.finish` `unknown_credential`
 * ("no such credential for /<cse>") when the credential exists and is usable but the association takes no handshake:
 * associated already (a device retrying after a lost confirm, with no token: docs/service.md, lost replies), or
 * revoked by an operator between the hello and the finish. Past the holder's proof it is told why
 * (`association_not_waiting`, naming the association's state and that a new handshake needs a new association id);
 * a stranger's finish still gets what a failed proof gets, and nothing is written either way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { associateOverHttp, httpDeviceTransport, provisionOverHttp } from '../adapters/client/device/index.ts';
import type { SimulatedDevice } from '../bin/commands/device/simulator.ts';
import { operatorCommand } from '../bin/commands/device/steps.ts';
import { deviceServiceWorld, type DeviceServiceWorld } from './support/device-service.ts';
import { settled } from './http-sse.fixtures.ts';

/** Events the engine holds outside the pseudonym streams (the live runtime writes those on its own). */
const ownEventCount = async (world: DeviceServiceWorld): Promise<number> => {
  let count = 0;
  for await (const e of world.service.service.context.credence.store.readAll({})) if (!e.streamId.startsWith('pseudonym-')) count++;
  return count;
};

describe('an association already associated, handshaken again by its holder with no token', () => {
  let world: DeviceServiceWorld;
  const devices: Record<string, SimulatedDevice> = {};
  const transport = () => httpDeviceTransport(world.service.url);
  const stateOf = async (associationId: string) => String((await world.service.service.context.credence.engine.entity('association', associationId)).snapshot.value);
  const associate = (kind: string, associationId: string) =>
    associateOverHttp(transport(), devices[kind]!.device, {
      associationId, credentialId: `zz-again-${kind}-svc`, lifetimeSeconds: 600, registrar: devices[kind]!.state.pinned.registrar,
    });

  beforeAll(async () => {
    world = await deviceServiceWorld();
    for (const kind of ['ed25519', 'psk256'] as const) {
      const sim = await world.enrolledDevice(`zz-again-${kind}`, 'ed25519');
      await provisionOverHttp(transport(), sim.device, { credentialId: `zz-again-${kind}-svc`, kind, enrolmentFunction: sim.state.pinned.enrolmentFunction });
      devices[kind] = sim;
    }
  }, 120_000);
  afterAll(() => world?.close());

  it.each(['ed25519', 'psk256'] as const)('(%s) is told association_not_waiting naming its state, associated, and writes nothing', async (kind) => {
    // Given an association established over HTTP (its confirm lost, say: the device does not count it)
    await world.configure(`zz-again-${kind}-sa`, devices[kind]!, `zz-again-${kind}-svc`);
    await associate(kind, `zz-again-${kind}-sa`);
    expect(await stateOf(`zz-again-${kind}-sa`)).toBe('associated');
    await settled(world.service);
    const before = await ownEventCount(world);

    // When its holder runs the same association's handshake again, with no token
    const refused = associate(kind, `zz-again-${kind}-sa`);

    // Then the finish says why, not that the credential does not exist, and nothing is written
    await expect(refused).rejects.toMatchObject({
      status: 422,
      problem: expect.objectContaining({
        step: 'association.finish',
        reason: 'association_not_waiting',
        detail: expect.stringMatching(/association zz-again-\w+-sa is associated.*new association id/),
      }),
    });
    expect(await ownEventCount(world)).toBe(before);
    expect(await stateOf(`zz-again-${kind}-sa`)).toBe('associated');
  });

  it('revoked by an operator, is told association_not_waiting naming revoked, and writes nothing', async () => {
    await world.configure('zz-again-revoked-sa', devices.ed25519!, 'zz-again-ed25519-svc');
    await operatorCommand(world.operator, 'revokeAssociation', { associationId: 'zz-again-revoked-sa', reason: 'cessationOfOperation' });
    await settled(world.service);
    const before = await ownEventCount(world);

    await expect(associate('ed25519', 'zz-again-revoked-sa')).rejects.toMatchObject({
      problem: expect.objectContaining({ step: 'association.finish', reason: 'association_not_waiting', detail: expect.stringContaining('is revoked') }),
    });
    expect(await ownEventCount(world)).toBe(before);
  });

  it('revoked between the hello and the finish of a run that was real, is told the same', async () => {
    await world.configure('zz-again-mid-sa', devices.ed25519!, 'zz-again-ed25519-svc');
    const sim = devices.ed25519!;
    const path = (step: 'hello' | 'finish') => `/v1/registrar/associations/zz-again-mid-sa/${step}`;
    const handshake = await sim.device
      .registree('zz-again-ed25519-svc', sim.device.cseId!, { id: sim.state.pinned.registrar.id, key: sim.state.pinned.registrar.publicKey })
      .start({ lifetimeSeconds: 600, associationId: 'zz-again-mid-sa' });
    try {
      const { finish } = await handshake.acceptChallenge((await world.post(path('hello'), handshake.hello)).body);
      await operatorCommand(world.operator, 'revokeAssociation', { associationId: 'zz-again-mid-sa', reason: 'cessationOfOperation' });
      await settled(world.service);
      const before = await ownEventCount(world);

      const answer = await world.post(path('finish'), finish);

      expect(answer.status).toBe(422);
      expect(answer.body).toMatchObject({ step: 'association.finish', reason: 'association_not_waiting', detail: expect.stringContaining('is revoked') });
      expect(await ownEventCount(world)).toBe(before);
    } finally {
      await handshake.abort();
    }
  });

  it("a stranger's finish of such a run still gets what a failed proof gets", async () => {
    const sim = devices.ed25519!;
    const path = (step: 'hello' | 'finish') => `/v1/registrar/associations/zz-again-ed25519-sa/${step}`;
    const handshake = await sim.device
      .registree('zz-again-ed25519-svc', sim.device.cseId!, { id: sim.state.pinned.registrar.id, key: sim.state.pinned.registrar.publicKey })
      .start({ lifetimeSeconds: 600, associationId: 'zz-again-ed25519-sa' });
    try {
      const { finish } = await handshake.acceptChallenge((await world.post(path('hello'), handshake.hello)).body);
      const forged = { ...finish, proof: `${finish.proof[0] === 'A' ? 'B' : 'A'}${finish.proof.slice(1)}` };

      const answer = await world.post(path('finish'), forged);

      expect(answer.status).toBe(422);
      expect(answer.body).toMatchObject({ step: 'association.finish', reason: 'bad_signature' });
    } finally {
      await handshake.abort();
    }
  });
});
