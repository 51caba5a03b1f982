/**
 * Review 161 (1), the rules: a Registree that proved it holds a usable credential was told `association.finish`
 * `unknown_credential` ("no such credential") when the association could not be run because of a rule: its node's
 * subscription ended, its node was revoked, its CSE-ID moved to another node, its App-ID was revoked, the cascade not
 * having revoked the association yet. The holder, past its proof, is now told the rule; the hello still reads and
 * answers alike (an-association-hello-reads-the-same-records-whatever-became-of-the-association.test.ts), and nothing
 * is written.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { command } from '../domain/commands/index.ts';
import { RegistrarEndpoint, type Device } from '../adapters/protocols/procedures/index.ts';
import { at, cmd, footprint, operator, rejection } from './support/fleet.ts';
import { securityWorld } from './support/security-world.ts';

type World = Awaited<ReturnType<typeof securityWorld>>;
let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

const run = (w: World, type: string, data: Record<string, unknown>) => w.credence.engine.execute(command(type as never, data as never, { actor: operator }));

const configure = (w: World, associationId: string, nodeId: string, registree: Record<string, string>) =>
  run(w, 'configureAssociation', { associationId, nodeId, credentialId: `${nodeId}-svc`, registree, registrarCseId: w.infrastructure.registrarCseId });

describe('an association finish, its holder proved, on an association a rule refuses though its credential is usable', () => {
  it('names the rule: subscription_ended, node_not_enrolled, cse_id_moved, app_id_not_enrolled; writing nothing', async () => {
    world = await securityWorld('association-finish-rules');
    const w = world;
    // Given, each waiting for its handshake, an association whose subscription, node, CSE-ID or App-ID ended since
    await w.credence.engine.execute(cmd.createSubscription('sub-2', at(365)));
    const meter1 = await w.provisioned('meter-1', 'ed25519', 'ed25519');
    await run(w, 'enrolNode', { nodeId: 'meter-1', subscriptionId: 'sub-2', cseId: '/meter-1-cse' });
    await configure(w, 'sa-sub-ended', 'meter-1', { kind: 'cse', id: '/meter-1-cse' });
    const meter2 = await w.provisioned('meter-2', 'ed25519', 'ed25519');
    await configure(w, 'sa-node-revoked', 'meter-2', { kind: 'cse', id: '/meter-2-cse' });
    const meter3 = await w.provisioned('meter-3', 'ed25519', 'psk256');
    await configure(w, 'sa-cse-moved', 'meter-3', { kind: 'cse', id: '/meter-3-cse' });
    const meter4 = await w.provisioned('meter-4', 'ed25519', 'ed25519');
    await run(w, 'registerApplication', { appId: 'Rbilling', name: 'billing', provider: 'City Utilities' });
    await w.credence.engine.execute(cmd.issueCredential('app-cred', 'Rbilling', at(365), { purpose: 'application', owner: { kind: 'app', id: 'Rbilling' } }));
    await w.credence.engine.execute(cmd.provisionCredential('app-cred'));
    await run(w, 'enrolApplication', { appId: 'Rbilling', credentialId: 'app-cred' });
    await configure(w, 'sa-app-revoked', 'meter-4', { kind: 'ae', id: 'Cbilling', appId: 'Rbilling' });
    await w.credence.settle();
    await run(w, 'terminateSubscription', { subscriptionId: 'sub-2', reason: 'contract ended' });
    await run(w, 'revokeNode', { nodeId: 'meter-2', reason: 'cessationOfOperation' });
    await run(w, 'enrolNode', { nodeId: 'meter-3', subscriptionId: 'sub-1', cseId: '/meter-3-renumbered' });
    await run(w, 'revokeApplication', { appId: 'Rbilling', reason: 'privilegeWithdrawn' });

    const endpoint = new RegistrarEndpoint(w.infrastructure);
    const pinned = await w.infrastructure.pinned('registrar');
    const finishOf = async (device: Device, nodeId: string, registreeId: string, associationId: string) => {
      const handshake = await device.registree(`${nodeId}-svc`, registreeId, { id: pinned.id, key: pinned.publicKey }).start({ lifetimeSeconds: 600, associationId });
      try {
        const { finish } = await handshake.acceptChallenge(await endpoint.acceptHello(associationId, handshake.hello));
        const before = await footprint(w.credence.store);
        const error = await rejection(endpoint.acceptFinish(associationId, finish));
        expect(await footprint(w.credence.store), associationId).toEqual(before);
        return error.problem as { reason?: string; step?: string; message: string };
      } finally {
        await handshake.abort();
      }
    };

    // When each holder runs its handshake, then each is told the rule at its finish
    expect(await finishOf(meter1, 'meter-1', '/meter-1-cse', 'sa-sub-ended')).toMatchObject({
      step: 'association.finish', reason: 'subscription_ended', message: expect.stringContaining('subscription sub-2 of node meter-1 has ended'),
    });
    expect(await finishOf(meter2, 'meter-2', '/meter-2-cse', 'sa-node-revoked')).toMatchObject({ reason: 'node_not_enrolled', message: expect.stringContaining('node meter-2 is not enrolled') });
    expect(await finishOf(meter3, 'meter-3', '/meter-3-cse', 'sa-cse-moved')).toMatchObject({
      reason: 'cse_id_moved', message: expect.stringContaining('node meter-3 no longer holds CSE-ID /meter-3-cse'),
    });
    expect(await finishOf(meter4, 'meter-4', 'Cbilling', 'sa-app-revoked')).toMatchObject({ reason: 'app_id_not_enrolled', message: expect.stringContaining('App-ID Rbilling is not enrolled') });
  });
});
