/**
 * Review 64 F2 (seeds 002/004 unobservability; SER-001): before any proof, a stranger must not learn what became of a
 * Node-ID by the time its hello takes either. Through the engine, a hello naming a node never recorded read the event
 * store once and the key registry never; one naming a recorded node, usable or revoked, read the store twice (its node
 * and its bootstrap) and the registry once, so its challenge came later. Every hello now makes the same reads. Counted,
 * not timed: the machines the suite runs on are too noisy for a timing assertion to mean anything.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Device } from '../adapters/protocols/procedures/index.ts';
import { command } from '../domain/commands/index.ts';
import { at, cmd, operator, profile, T0 } from './support/fleet.ts';
import { watchCalls } from './support/call-log.ts';
import { securityWorld } from './support/security-world.ts';

type World = Awaited<ReturnType<typeof securityWorld>>;
let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

/** The Secure Environment calls a hello could make. */
const SE_CALLS = ['generate', 'describe', 'sign', 'mac', 'verifyMac', 'agree', 'deriveKey', 'wrap', 'unwrap', 'destroy'];

describe('a provisioning hello through the engine, for a usable node, a revoked one, one never recorded and one without a bootstrap', () => {
  it.each(['ed25519', 'p256', 'psk256'] as const)('%s bootstrap: the same store and key registry reads for each', async (kind) => {
    world = await securityWorld(`hello-reads-${kind}`);
    const w = world;
    const factory = async (nodeId: string): Promise<Device> => {
      const device = w.device(nodeId);
      const validity = { notBefore: T0, notAfter: at(5 * 365) };
      await w.procedures.preProvision({ device, profile, bootstrapCredentialId: `${nodeId}-boot`, kind, validity });
      await w.credence.engine.execute(cmd.enrolNode(nodeId));
      return device;
    };
    // Given a usable node, a revoked one, and one registered that was never given a bootstrap
    const usable = await factory('meter-1');
    const revoked = await factory('meter-2');
    await w.credence.engine.execute(command('revokeNode', { nodeId: 'meter-2', reason: 'cessationOfOperation' }, { actor: operator }));
    await w.credence.engine.execute(cmd.registerNode('meter-3'));
    await w.credence.settle();
    const log: string[] = [];
    watchCalls(w.credence.store, ['readStream', 'readAll'], 'store', log);
    watchCalls(w.credence.keyRegistry!, ['live'], 'registry', log);
    watchCalls(w.infraSe, SE_CALLS, 'se', log);
    const ef = w.infrastructure.enrolmentFunction;
    const pinned = { id: w.infrastructure.enrolmentFunctionId, publicKey: { kind: w.infrastructure.signing.kind, bytes: w.infrastructure.signing.efPublicKey } };
    const named = [['usable', usable, 'meter-1'], ['revoked', revoked, 'meter-2'], ['never recorded', usable, 'meter-9'], ['without a bootstrap', usable, 'meter-3']] as const;

    // When each is named in a hello the usable node's device sends, asking for a PSK (so with an ephemeral key to agree),
    // twice: the second finds the lookups' memo warm
    const reads: Record<string, string[][]> = {};
    const seCalls: Record<string, string[][]> = {};
    for (let round = 0; round < 2; round++) {
      for (const [label, device, nodeId] of named) {
        const session = await device.provisioningClient(pinned).start({ credentialKind: 'psk256' });
        log.length = 0;
        await ef.acceptHello({ ...session.hello, nodeId });
        (reads[label] ??= []).push(log.filter((call) => !call.startsWith('se.')));
        (seCalls[label] ??= []).push(log.filter((call) => call.startsWith('se.')));
        await session.abort();
      }
    }

    // Then each made the same reads, in the same order, as the usable node's
    expect(reads.usable![0]).toEqual(['store.readStream', 'store.readStream', 'registry.live']);
    for (const label of ['revoked', 'never recorded', 'without a bootstrap']) expect(reads[label], label).toEqual(reads.usable);
    // and, with a signature-mode bootstrap, the same Secure Environment calls (the ephemeral key, its signature)
    if (kind !== 'psk256') for (const label of ['revoked', 'never recorded', 'without a bootstrap']) expect(seCalls[label], label).toEqual(seCalls.usable);
  });
});
