/**
 * Issue 12, device-facing protocol endpoints: a device provisions and associates across a real HTTP connection,
 * the Enrolment Function and the Registrar CSE on one side, the device's own Secure Environment on the other.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { associateOverHttp, httpDeviceTransport, provisionOverHttp } from '../adapters/client/device/index.ts';
import type { PinnedResponder } from '../adapters/protocols/procedures/index.ts';
import { streamIdOf } from '../domain/streams.ts';
import { verifyProvisioningReceipt } from '../domain/protocols/index.ts';
import type { KeyHandle } from '../domain/ports/index.ts';
import { operatorCommand } from '../bin/commands/device/steps.ts';
import { deviceServiceWorld, type DeviceServiceWorld } from './support/device-service.ts';

let world: DeviceServiceWorld;
beforeAll(async () => {
  world = await deviceServiceWorld();
}, 60_000);
afterAll(async () => {
  await world?.close();
});

const text = (s: string) => new TextEncoder().encode(s);
const AAD = new Uint8Array(0);

describe('remote provisioning and the association handshake over HTTP, by the device client against a live server', () => {
  it('GET /v1/enrolment and GET /v1/registrar give the ids and public keys a device pins', async () => {
    const ef = await world.get<PinnedResponder>('/v1/enrolment');
    const registrar = await world.get<PinnedResponder>('/v1/registrar');
    const infra = await world.infrastructure();
    expect(ef).toMatchObject({ id: infra.enrolmentFunctionId, publicKey: { kind: infra.signing.kind } });
    expect(registrar).toMatchObject({ id: infra.registrarCseId, publicKey: { kind: infra.signing.kind } });
    expect(ef.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it.each([
    ['ed25519', 'ed25519'],
    ['p256', 'p256'],
    ['ed25519', 'psk256'],
  ] as const)('bootstrap %s, service credential %s: recorded with its receipt, associated, one session key per direction paired across the ends', async (bootstrap, service) => {
    const nodeId = `meter-${bootstrap}-${service}`;
    const sim = await world.enrolledDevice(nodeId, bootstrap);
    const transport = httpDeviceTransport(world.service.url);
    const { recorded } = await provisionOverHttp(transport, sim.device, { credentialId: `${nodeId}-svc`, kind: service, enrolmentFunction: sim.state.pinned.enrolmentFunction });
    expect(recorded).toMatchObject({ type: 'provisioning.recorded', credentialId: `${nodeId}-svc`, nodeId, kind: service });
    expect(sim.device.cseId).toBe(`/${nodeId}-cse`);

    const { engine } = world.service.service.context.credence;
    const credential = await engine.entity('credential', `${nodeId}-svc`);
    expect(String(credential.snapshot.value)).toBe('enrolled');
    const [issued, provisioned] = credential.events.map((e) => e.event);
    if (issued?.type !== 'CredentialIssued' || provisioned?.type !== 'CredentialProvisioned') throw new Error('unexpected events');
    expect(provisioned.data).toMatchObject({ method: 'remote-provisioning', bootstrapCredentialId: `${nodeId}-boot`, receipt: { enrolmentFunctionId: 'MEF-1', credentialId: `${nodeId}-svc` } });
    expect(String(credential.events[1]!.record.position)).toBe(recorded.position);
    // An auditor checks the receipt offline with public keys only: the bootstrap's, and the one GET /v1/enrolment gives.
    const boot = (await engine.entity('credential', `${nodeId}-boot`)).events[0]!.event;
    if (boot.type !== 'CredentialIssued') throw new Error('unexpected events');
    const ef = sim.state.pinned.enrolmentFunction.publicKey;
    const verified = verifyProvisioningReceipt(provisioned.data, { bootstrap: boot.data, enrolmentFunction: ef }, { issued: issued.data });
    expect(verified).toMatchObject({ ok: true, proofs: { bootstrap: 'verified', enrolmentFunction: 'verified' } });

    await world.configure(`${nodeId}-sa`, sim, `${nodeId}-svc`);
    const outcome = await associateOverHttp(transport, sim.device, {
      associationId: `${nodeId}-sa`, credentialId: `${nodeId}-svc`, lifetimeSeconds: 30 * 86_400, registrar: sim.state.pinned.registrar,
    });
    const association = await engine.entity('association', `${nodeId}-sa`);
    expect(String(association.snapshot.value)).toBe('associated');
    const established = association.events.find((e) => e.event.type === 'AssociationEstablished')!.event;
    expect(established.data).toMatchObject({ transcriptHash: outcome.transcriptHash, expiresAt: outcome.expiresAt });

    // The Registrar's two keys are the ones the key registry keeps for the association: exactly one of them opens
    // what the device sealed with its send key (the Registrar's receive key), and the other seals what the
    // device's receive key opens.
    const infra = await world.infrastructure();
    const handles = infra.o.registry.live(streamIdOf('association', `${nodeId}-sa`), 'session') as KeyHandle[];
    expect(handles).toHaveLength(2);
    // Registered pending before the append and confirmed after it: nothing left for the next start to sweep.
    expect(infra.o.registry.pending().filter((b) => b.stream === streamIdOf('association', `${nodeId}-sa`))).toEqual([]);
    const up = await sim.device.se.seal(outcome.sessionKeys.send, text('meter reading 42'), AAD);
    const opened = await Promise.all(handles.map((h) => infra.o.se.open(h, up, AAD)));
    expect(opened.filter((o) => o !== undefined).map((o) => new TextDecoder().decode(o))).toEqual(['meter reading 42']);
    const send = handles[opened.findIndex((o) => o === undefined)]!;
    const down = await infra.o.se.seal(send, text('command 7'), AAD);
    expect(new TextDecoder().decode(await sim.device.se.open(outcome.sessionKeys.receive, down, AAD))).toBe('command 7');
    expect(await sim.device.se.open(outcome.sessionKeys.send, down, AAD)).toBeUndefined();
  }, 30_000);

  it('a successor names its predecessor in the hello request; the operator then starts the rotation', async () => {
    const sim = await world.enrolledDevice('meter-rotating', 'ed25519');
    const transport = httpDeviceTransport(world.service.url);
    const enrolmentFunction = sim.state.pinned.enrolmentFunction;
    await provisionOverHttp(transport, sim.device, { credentialId: 'rot-1', kind: 'ed25519', enrolmentFunction });
    const { recorded } = await provisionOverHttp(transport, sim.device, { credentialId: 'rot-2', kind: 'p256', predecessorId: 'rot-1', enrolmentFunction });
    expect(recorded.predecessorId).toBe('rot-1');
    const { engine } = world.service.service.context.credence;
    expect((await engine.entity('credential', 'rot-2')).events[0]!.event.data).toMatchObject({ predecessorId: 'rot-1' });
    const overlapEndsAt = new Date(Date.now() + 7 * 86_400_000).toISOString();
    await operatorCommand(world.operator, 'startCredentialRotation', { credentialId: 'rot-1', successorId: 'rot-2', overlapEndsAt });
    expect((await engine.entity('credential', 'rot-1')).snapshot.context).toMatchObject({ successorId: 'rot-2' });

    // A predecessor that is not a live credential of this node is refused once the node has authenticated, before
    // any key is delivered.
    const other = await world.enrolledDevice('meter-other', 'ed25519');
    const refused = await provisionOverHttp(transport, other.device, { credentialId: 'rot-x', kind: 'ed25519', predecessorId: 'rot-1', enrolmentFunction }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ status: 400, problem: { errors: [{ path: 'predecessorId' }] } });
    expect(other.device.credentials.size).toBe(0);
  }, 30_000);
});
