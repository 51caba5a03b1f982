import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpDeviceTransport, provisionOverHttp, associateOverHttp } from '../adapters/client/device/index.ts';
import type { SimulatedDevice } from '../bin/commands/device/simulator.ts';
import { deviceServiceWorld, type DeviceServiceWorld } from './support/device-service.ts';

/*
 * Found in review: the association id was in the URL only, not in the handshake. An attacker on the path rewrote
 * both requests of a handshake meant for association A to association B of the same Registree and credential: the
 * Registrar recorded B, the Registree believed it had established A. The hello now names its association, every
 * proof of the run covers it, and the Registrar refuses a hello whose association is not the one of its path.
 */

let world: DeviceServiceWorld;
let sim: SimulatedDevice;
beforeAll(async () => {
  world = await deviceServiceWorld();
  sim = await world.enrolledDevice('meter-z', 'ed25519');
  await provisionOverHttp(httpDeviceTransport(world.service.url), sim.device, { credentialId: 'z-svc', kind: 'ed25519', enrolmentFunction: sim.state.pinned.enrolmentFunction });
  await world.configure('sa-A', sim, 'z-svc');
  await world.configure('sa-B', sim, 'z-svc');
}, 60_000);
afterAll(async () => {
  await world?.close();
});

const stateOf = async (associationId: string): Promise<string> =>
  String((await world.service.service.context.credence.engine.entity('association', associationId)).snapshot.value);

describe('an association handshake over a connection', () => {
  const registree = () => sim.device.registree('z-svc', sim.device.cseId!, { id: sim.state.pinned.registrar.id, key: sim.state.pinned.registrar.publicKey });

  it('moved onto another association of the same credential is refused at its hello, and nothing is recorded', async () => {
    const handshake = await registree().start({ lifetimeSeconds: 600, associationId: 'sa-A' });
    const moved = await world.post('/v1/registrar/associations/sa-B/hello', handshake.hello);
    expect(moved.status).toBe(422);
    expect(moved.body).toMatchObject({ step: 'association.hello', reason: 'wrong_identity' });
    await handshake.abort();
    expect(await stateOf('sa-A')).toBe('initialized');
    expect(await stateOf('sa-B')).toBe('initialized');
  });

  it('naming no association is refused: the path alone does not bind it', async () => {
    const handshake = await registree().start({ lifetimeSeconds: 600 });
    const unnamed = await world.post('/v1/registrar/associations/sa-A/hello', handshake.hello);
    expect(unnamed.status).toBe(422);
    expect(unnamed.body).toMatchObject({ reason: 'wrong_identity' });
    await handshake.abort();
  });

  it('establishes the association it names', async () => {
    await associateOverHttp(httpDeviceTransport(world.service.url), sim.device, {
      associationId: 'sa-A',
      credentialId: 'z-svc',
      lifetimeSeconds: 600,
      registrar: sim.state.pinned.registrar,
    });
    expect(await stateOf('sa-A')).toBe('associated');
    expect(await stateOf('sa-B')).toBe('initialized');
  });
});
