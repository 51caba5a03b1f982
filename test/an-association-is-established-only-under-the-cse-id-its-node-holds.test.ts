import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { associateOverHttp, httpDeviceTransport, provisionOverHttp } from '../adapters/client/device/index.ts';
import { command } from '../domain/commands/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { operatorCommand } from '../bin/commands/device/steps.ts';
import type { SimulatedDevice } from '../bin/commands/device/simulator.ts';
import { deviceServiceWorld, type DeviceServiceWorld } from './support/device-service.ts';
import { at, cmd, fixture, footprint, operator, rejection } from './support/fleet.ts';
import { settled } from './http-sse.fixtures.ts';

/*
 * RS-01, found in adversarial review over HTTP: a Registree established a CSE association under a CSE-ID its node no
 * longer held, one since given to another node. The association machine checked that the Registree was the node's
 * own CSE only when the association was configured; the Registrar compared the hello's Registree with the id stored
 * at configuration, never with the CSE-ID the node holds now. Moving a CSE-ID from one node to another (re-enrol A
 * under a new CSE-ID, enrol B under A's old one: a device replacement) is supported and stays so: what waited under
 * the old CSE-ID for A is no longer A's to complete.
 */

const ownStreams = (streams: string[]) => streams.filter((s) => !s.startsWith('pseudonym-'));

describe('an association is established only under the CSE-ID its node holds (RS-01)', () => {
  let world: DeviceServiceWorld;
  let a: SimulatedDevice;
  let b: SimulatedDevice;
  const transport = () => httpDeviceTransport(world.service.url);
  const stateOf = async (associationId: string) => String((await world.service.service.context.credence.engine.entity('association', associationId)).snapshot.value);

  beforeAll(async () => {
    world = await deviceServiceWorld();
    a = await world.enrolledDevice('zz-a', 'ed25519');
    await provisionOverHttp(transport(), a.device, { credentialId: 'zz-a-svc', kind: 'ed25519', enrolmentFunction: a.state.pinned.enrolmentFunction });
    await operatorCommand(world.operator, 'configureAssociation', {
      associationId: 'zz-a-sa', nodeId: 'zz-a', credentialId: 'zz-a-svc', registree: { kind: 'cse', id: '/zz-a-cse' }, registrarCseId: a.state.pinned.registrar.id,
    });
    // The device replacement: A renumbered, B enrolled under A's old CSE-ID.
    await operatorCommand(world.operator, 'enrolNode', { nodeId: 'zz-a', subscriptionId: 'sub-1', cseId: '/zz-a-renumbered' });
    b = await world.enrolledDevice('zz-b', 'ed25519');
    await operatorCommand(world.operator, 'enrolNode', { nodeId: 'zz-b', subscriptionId: 'sub-1', cseId: '/zz-a-cse' });
    // The cascade's reactions to the renumbering are in before any test counts what a refusal wrote.
    await settled(world.service);
  }, 120_000);
  afterAll(() => world?.close());

  it('refuses the handshake of a node under the CSE-ID it no longer holds, recording nothing', async () => {
    const before = await world.head();
    await expect(
      associateOverHttp(transport(), a.device, { associationId: 'zz-a-sa', credentialId: 'zz-a-svc', lifetimeSeconds: 3_600, registreeId: '/zz-a-cse', registrar: a.state.pinned.registrar }),
      // Its hello is answered with a decoy challenge (shared/decoy.ts); the holder is told why at its finish: the
      // cascade revoked the association when its node was renumbered (review 161: `unknown_credential` before).
    ).rejects.toMatchObject({
      problem: expect.objectContaining({ step: 'association.finish', reason: 'association_not_waiting', detail: expect.stringContaining('association zz-a-sa is revoked') }),
    });
    expect(ownStreams(await world.streamsWrittenSince(before))).toEqual([]);
    // Revoked by the cascade when its node was renumbered (affiliationChanged), not left waiting for ever.
    expect(await stateOf('zz-a-sa')).toBe('revoked');
  });

  it('still associates the renumbered node under its new CSE-ID, and the new holder of the old one (the supported move)', async () => {
    await operatorCommand(world.operator, 'configureAssociation', {
      associationId: 'zz-a-sa2', nodeId: 'zz-a', credentialId: 'zz-a-svc', registree: { kind: 'cse', id: '/zz-a-renumbered' }, registrarCseId: a.state.pinned.registrar.id,
    });
    await associateOverHttp(transport(), a.device, { associationId: 'zz-a-sa2', credentialId: 'zz-a-svc', lifetimeSeconds: 3_600, registreeId: '/zz-a-renumbered', registrar: a.state.pinned.registrar });
    expect(await stateOf('zz-a-sa2')).toBe('associated');

    await provisionOverHttp(transport(), b.device, { credentialId: 'zz-b-svc', kind: 'ed25519', enrolmentFunction: b.state.pinned.enrolmentFunction });
    expect(b.device.cseId).toBe('/zz-a-cse');
    await operatorCommand(world.operator, 'configureAssociation', {
      associationId: 'zz-b-sa', nodeId: 'zz-b', credentialId: 'zz-b-svc', registree: { kind: 'cse', id: '/zz-a-cse' }, registrarCseId: b.state.pinned.registrar.id,
    });
    await associateOverHttp(transport(), b.device, { associationId: 'zz-b-sa', credentialId: 'zz-b-svc', lifetimeSeconds: 3_600, registrar: b.state.pinned.registrar });
    expect(await stateOf('zz-b-sa')).toBe('associated');
    expect((await replayAll(world.service.service.context.credence.store)).findings).toEqual([]);
  });
});

describe('the association machine decides it at establishment, for every caller', () => {
  it('refuses establishAssociation under a CSE-ID the node no longer holds (rule credentialBelongsToRegistree), writing nothing', async () => {
    const { store, engine } = fixture();
    for (const c of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential(), cmd.provisionCredential(), cmd.configureAssociation()]) await engine.execute(c);
    await engine.execute(command('enrolNode', { nodeId: 'meter-1', subscriptionId: 'sub-1', cseId: '/cse-meter-1-renumbered' }, { actor: operator }));
    const before = await footprint(store);
    const error = await rejection(engine.execute(cmd.establishAssociation('sa-1', at(30))));
    expect(error.problem).toMatchObject({ code: 'illegal_transition', state: 'initialized', attempted: 'AssociationEstablished', rule: 'credentialBelongsToRegistree' });
    expect(await footprint(store)).toEqual(before);
  });
});
