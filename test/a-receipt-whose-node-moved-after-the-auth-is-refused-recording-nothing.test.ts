import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEVICE_PATHS, httpDeviceTransport, type DeviceTransport } from '../adapters/client/device/index.ts';
import { command } from '../domain/commands/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { operatorCommand } from '../bin/commands/device/steps.ts';
import { forge } from './replay.fixtures.ts';
import { receiptV2 } from './support/parse-samples.ts';
import { deviceServiceWorld, type DeviceServiceWorld } from './support/device-service.ts';
import { heldBy, provisionWith } from './support/device-provisioning.ts';
import { cmd, fixture, footprint, operator, rejection, T0 } from './support/fleet.ts';

/*
 * Review 346 (RS-17, SER-016; seed 003 11.2.1): the Enrolment Function reads the node's CSE-ID and M2M-Sub-ID at the
 * auth step and the device is given them; an operator moving the node (`enrolNode` onto another subscription, under
 * the same CSE-ID or a new one) before the receipt had the provisioning recorded with the old ones in its receipt, and
 * the device told them as its service. `CredentialProvisioned` now holds a receipt's service parameters to the owner
 * node's at its commit (rule receiptServiceParametersCurrent): refused, nothing is written and the device is told.
 */

const ownStreams = (streams: string[]) => streams.filter((s) => !s.startsWith('pseudonym-'));

describe('a receipt whose node moved after the auth step is refused, recording nothing (review 346)', () => {
  let world: DeviceServiceWorld;
  beforeAll(async () => {
    world = await deviceServiceWorld();
    const now = Date.now();
    await operatorCommand(world.operator, 'createSubscription', {
      subscriptionId: 'sub-2', subscriber: 'Water Board', notBefore: new Date(now).toISOString(), notAfter: new Date(now + 365 * 86_400_000).toISOString(),
    });
  }, 120_000);
  afterAll(() => world?.close());

  it.each([
    ['to another subscription under the same CSE-ID', 'mv-same', (nodeId: string) => `/${nodeId}-cse`],
    ['to another subscription under a new CSE-ID', 'mv-new', (nodeId: string) => `/${nodeId}-cse-2`],
  ] as const)('moved %s: 409 by rule receiptServiceParametersCurrent under the refusal proof, nothing written', async (_case, nodeId, cseIdOf) => {
    const sim = await world.enrolledDevice(nodeId, 'ed25519');
    const http = httpDeviceTransport(world.service.url);
    let before: bigint | undefined;
    // Hello and auth under sub-1 (the device is given sub-1 and its CSE-ID); the move lands before the receipt.
    const transport: DeviceTransport = {
      get: (path) => http.get(path),
      post: async (path, body) => {
        if (path === DEVICE_PATHS.enrolmentStep('receipt')) {
          await operatorCommand(world.operator, 'enrolNode', { nodeId, subscriptionId: 'sub-2', cseId: cseIdOf(nodeId) });
          before = await world.head();
        }
        return http.post(path, body);
      },
    };
    const credentialId = `${nodeId}-svc`;
    const { outcome, made } = await provisionWith(sim, credentialId, transport);
    // Told under the Enrolment Function's proof, so the device takes the refusal for the server's (review 333).
    expect(outcome).toMatchObject({
      problem: expect.objectContaining({ status: 409, attempted: 'CredentialProvisioned', rule: 'receiptServiceParametersCurrent', refusalProof: expect.any(String) }),
    });
    expect((outcome as { problem: { detail?: string } }).problem.detail ?? '').toContain('sub-2');
    expect(before).toBeDefined();
    expect(ownStreams(await world.streamsWrittenSince(before!))).toEqual([]);
    expect((await world.service.service.context.credence.engine.entity('credential', credentialId)).events).toEqual([]);
    // The device kept nothing of the run: the refusal verified under the key it pinned.
    expect(sim.device.credentials.get(credentialId)).toBeUndefined();
    expect(await heldBy(sim, made.handle)).toBe(false);
  }, 60_000);
});

describe('the credential machine decides it for every caller', () => {
  // A v2 receipt naming cred-1 of meter-1, the service parameters it was given at the auth step.
  const provisionWithReceipt = (serviceParameters: { cseId?: string; m2mSubId?: string }) =>
    command('provisionCredential', {
      credentialId: 'cred-1', method: 'pre-provisioning',
      receipt: { ...receiptV2, credentialId: 'cred-1', completedAt: T0, serviceParameters, credential: { ...receiptV2.credential, owner: { kind: 'node', id: 'meter-1' } } },
    }, { actor: operator });

  it('refuses a receipt whose M2M-Sub-ID or CSE-ID is no longer its node\'s, writing nothing, and records one that is', async () => {
    const { store, engine } = fixture();
    for (const c of [cmd.createSubscription(), cmd.createSubscription('sub-2'), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential()]) await engine.execute(c);
    await engine.execute(command('enrolNode', { nodeId: 'meter-1', subscriptionId: 'sub-2', cseId: '/cse-meter-1' }, { actor: operator }));
    const before = await footprint(store);
    for (const stale of [{ cseId: '/cse-meter-1', m2mSubId: 'sub-1' }, { cseId: '/cse-old', m2mSubId: 'sub-2' }, { m2mSubId: 'sub-2' }]) {
      const error = await rejection(engine.execute(provisionWithReceipt(stale)));
      expect(error.problem).toMatchObject({ code: 'illegal_transition', state: 'initialized', attempted: 'CredentialProvisioned', rule: 'receiptServiceParametersCurrent' });
      expect(error.message).toContain('node meter-1 is enrolled under subscription sub-2 with CSE-ID /cse-meter-1');
      expect(await footprint(store)).toEqual(before);
    }
    await engine.execute(provisionWithReceipt({ cseId: '/cse-meter-1', m2mSubId: 'sub-2' }));
    expect((await engine.entity('credential', 'cred-1')).snapshot.value).toBe('enrolled');
    expect((await replayAll(store)).findings).toEqual([]);
  });

  it('replay flags a provisioning an earlier version stored with its node\'s old service parameters, by a rule newer than it', async () => {
    const { store, engine } = fixture();
    for (const c of [cmd.createSubscription(), cmd.createSubscription('sub-2'), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential()]) await engine.execute(c);
    await engine.execute(command('enrolNode', { nodeId: 'meter-1', subscriptionId: 'sub-2', cseId: '/cse-meter-1' }, { actor: operator }));
    // What v13 accepted: the receipt of a run authenticated under sub-1, recorded after the move.
    await forge(store, 'credential-cred-1', 'CredentialProvisioned', provisionWithReceipt({ cseId: '/cse-meter-1', m2mSubId: 'sub-1' }).data as never, T0);
    const { findings } = await replayAll(store);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ streamId: 'credential-cred-1', type: 'CredentialProvisioned' });
    expect(findings[0]!.reason).toContain('by rule receiptServiceParametersCurrent');
    expect(findings[0]!.reason.endsWith('(rule since credence:machines:v14: an event stored by an earlier version may break it; see docs/service.md, Upgrading)')).toBe(true);
  });
});
