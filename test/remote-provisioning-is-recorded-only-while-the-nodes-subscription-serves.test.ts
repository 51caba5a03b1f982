import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEVICE_PATHS, httpDeviceTransport, provisionOverHttp, type DeviceTransport } from '../adapters/client/device/index.ts';
import { command } from '../domain/commands/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { operatorCommand } from '../bin/commands/device/steps.ts';
import type { SimulatedDevice } from '../bin/commands/device/simulator.ts';
import { deviceServiceWorld, type DeviceServiceWorld } from './support/device-service.ts';
import { at, cmd, fixture, footprint, operator, rejection } from './support/fleet.ts';

/*
 * Seed 003 11.2.1, found in adversarial review over HTTP: "M2M service provisioning assumes the existence of an M2M
 * service subscription", yet a remote provisioning run whose node authenticated while its subscription was active
 * was recorded after the subscription was terminated: the Enrolment Function asked at the auth step only, and the
 * credential machine never looked at the subscription. The credential machine now reads the owner node's
 * subscription when a node's credential is provisioned (`subscriptionServes`), as the association machine does.
 */

const ownStreams = (streams: string[]) => streams.filter((s) => !s.startsWith('pseudonym-'));

describe('remote provisioning is recorded only while the node\'s subscription serves (seed 003 11.2.1)', () => {
  let world: DeviceServiceWorld;
  let sim: SimulatedDevice;
  beforeAll(async () => {
    world = await deviceServiceWorld();
    sim = await world.enrolledDevice('zz-p', 'ed25519');
  }, 120_000);
  afterAll(() => world?.close());

  it('refuses the receipt of a run whose node\'s subscription was terminated after it authenticated, recording nothing', async () => {
    const http = httpDeviceTransport(world.service.url);
    let before: bigint | undefined;
    // Hello and auth (200) under the active subscription; the termination lands before the receipt.
    const transport: DeviceTransport = {
      get: (path) => http.get(path),
      post: async (path, body) => {
        if (path === DEVICE_PATHS.enrolmentStep('receipt')) {
          await world.service.service.context.live.stop(); // the cascade lags: the node is still enrolled
          await operatorCommand(world.operator, 'terminateSubscription', { subscriptionId: 'sub-1', reason: 'contract ended' });
          before = await world.head();
        }
        return http.post(path, body);
      },
    };
    // The refusal comes under the Enrolment Function's proof, so the device takes it for the server's (review 333).
    await expect(
      provisionOverHttp(transport, sim.device, { credentialId: 'zz-p-svc', kind: 'ed25519', enrolmentFunction: sim.state.pinned.enrolmentFunction }),
    ).rejects.toMatchObject({ problem: expect.objectContaining({ status: 409, attempted: 'CredentialProvisioned', rule: 'subscriptionServes', refusalProof: expect.any(String) }) });
    expect(before).toBeDefined();
    expect(ownStreams(await world.streamsWrittenSince(before!))).toEqual([]);
    expect((await world.service.service.context.credence.engine.entity('credential', 'zz-p-svc')).events).toEqual([]);
    expect((await world.service.service.context.credence.engine.entity('node', 'zz-p')).snapshot.value).toBe('enrolled');
  });
});

describe('the credential machine decides it for every caller', () => {
  const terminate = command('terminateSubscription', { subscriptionId: 'sub-1', reason: 'contract ended' }, { actor: operator });

  it('refuses to provision a node\'s credential once its subscription was terminated (rule subscriptionServes), writing nothing', async () => {
    const { store, engine } = fixture();
    for (const c of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential()]) await engine.execute(c);
    await engine.execute(terminate);
    const before = await footprint(store);
    const error = await rejection(engine.execute(cmd.provisionCredential()));
    expect(error.problem).toMatchObject({ code: 'illegal_transition', state: 'initialized', attempted: 'CredentialProvisioned', rule: 'subscriptionServes' });
    expect(await footprint(store)).toEqual(before);
  });

  it('refuses it past the subscription\'s notAfter, before anything marked the subscription expired', async () => {
    const { store, clock, engine } = fixture();
    // Issued before the enrolment: issued while enrolled it would end by day 20 (endsWithinSubscription, review 205),
    // and be refused as expired (notExpiredYet) before this rule is reached.
    for (const c of [cmd.createSubscription('sub-1', at(20)), cmd.registerNode(), cmd.issueCredential(), cmd.enrolNode()]) await engine.execute(c);
    clock.set(new Date(at(21)));
    const before = await footprint(store);
    expect((await rejection(engine.execute(cmd.provisionCredential()))).problem).toMatchObject({ rule: 'subscriptionServes' });
    expect(await footprint(store)).toEqual(before);
  });

  it('keeps legal what never rested on a subscription: the factory credential before enrolment, a node never enrolled, and the factory credential after the end', async () => {
    const { store, engine } = fixture();
    await engine.execute(cmd.createSubscription());
    // Registration at the factory: the node is under no subscription yet.
    await engine.execute(command('registerNode', { nodeId: 'meter-1', profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: ['metering'] }, bootstrapCredentialId: 'boot-1' }, { actor: operator }));
    await engine.execute(cmd.issueCredential('boot-1', 'meter-1', at(90), { purpose: 'bootstrap' }));
    await engine.execute(cmd.provisionCredential('boot-1'));
    // An operator's credential for a node under no subscription.
    await engine.execute(cmd.registerNode('meter-2'));
    await engine.execute(cmd.issueCredential('cred-2', 'meter-2'));
    await engine.execute(cmd.provisionCredential('cred-2'));
    // Enrolled, then the subscription ends: a factory (bootstrap) credential is no service provisioning.
    await engine.execute(cmd.enrolNode('meter-1'));
    // meter-3's factory credential, issued while it is enrolled and provisioned after the end. Its own registered one: a
    // node's bootstrap is the one it registered with (review 288), and no successor of it is issued (review 290).
    await engine.execute(command('registerNode', { nodeId: 'meter-3', profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: ['metering'] }, bootstrapCredentialId: 'boot-3' }, { actor: operator }));
    await engine.execute(cmd.enrolNode('meter-3'));
    await engine.execute(cmd.issueCredential('boot-3', 'meter-3', at(90), { purpose: 'bootstrap' }));
    await engine.execute(terminate);
    await engine.execute(cmd.provisionCredential('boot-3'));
    for (const id of ['boot-1', 'cred-2', 'boot-3']) expect((await engine.entity('credential', id)).snapshot.value).toBe('enrolled');
    expect((await replayAll(store)).findings).toEqual([]);
  });
});
