import { describe, expect, it } from 'vitest';
import { MemoryReplayCache } from '../adapters/driven/replay-cache/replay-cache.ts';
import { ProvisioningClient } from '../adapters/protocols/enrolment/node-client.ts';
import { isCredenceError } from '../domain/errors.ts';
import { ownerView } from '../domain/ports/owner-view.ts';
import { seededRandom } from './crypto-fixtures.ts';
import { EF_ID, NODE_ID, NODE_OWNER, provisioningWorld, type WorldOptions } from './provisioning-protocol.fixtures.ts';

/*
 * Found in review: runs past their auth step had no bound per node. One node with a valid bootstrap credential (a
 * compromised device) looping hello and auth, never sending its receipt, filled the Enrolment Function's session
 * table (every other node: too_many_sessions) or its replay namespace (every other node: replay_cache_full, for up
 * to the replay window). Now a node keeps at most four authenticated runs in the table (its newest), and takes one of
 * 32 run slots per replay window: past them it alone is refused, too_many_runs, and writes nothing.
 */

const reasonOf = (error: unknown): string | undefined =>
  isCredenceError(error, 'protocol') && error.problem.code === 'protocol' ? error.problem.reason : undefined;

/** The Enrolment Function of the fixture, which also knows a second node, `node-0002`, with the same bootstrap key. */
const twoNodes = async (ef: WorldOptions['ef']) => {
  let descriptor: unknown;
  const world = await provisioningWorld({
    bootstrapKind: 'ed25519',
    ef: { ...ef, resolveBootstrap: async (nodeId) => (nodeId === NODE_ID || nodeId === 'node-0002' ? { descriptor: descriptor as never } : undefined) },
  });
  descriptor = world.bootstrap.descriptor;
  const other = new ProvisioningClient({
    nodeId: 'node-0002',
    se: ownerView(world.nodeSe, NODE_OWNER),
    now: world.clock.now,
    random: seededRandom('the-other-node'),
    bootstrap: { handle: world.bootstrap.nodeHandle, descriptor: world.bootstrap.descriptor },
    enrolmentFunction: { id: EF_ID, publicKey: { kind: 'ed25519', bytes: world.efSigningPublicKey } },
  });
  /** One run of the fixture's node up to its delivery, never finished. */
  const abandonedRun = async (i: number) => {
    const session = await world.client.start({ credentialKind: 'ed25519', credentialId: `abandoned-${i}` });
    await world.ef.acceptAuth(await session.acceptChallenge(await world.ef.acceptHello(session.hello)));
  };
  return { world, other, abandonedRun };
};

describe('one node that never finishes its runs', () => {
  it('keeps at most four authenticated runs in the table, so the other nodes still get sessions', async () => {
    const { world, other, abandonedRun } = await twoNodes({ maxSessions: 8 });
    for (let i = 0; i < 12; i++) await abandonedRun(i);
    expect(world.ef.sessionCount).toBe(4);
    const session = await other.start({ credentialKind: 'ed25519', credentialId: 'other-svc' });
    await expect(world.ef.acceptHello(session.hello)).resolves.toMatchObject({ type: 'provisioning.challenge' });
  }, 60_000);

  it('is refused too_many_runs past 32 runs in the replay window, writing nothing, while the other nodes are not', async () => {
    const cache = new MemoryReplayCache({ windowSeconds: 900, maxEntries: 200 });
    const { world, other, abandonedRun } = await twoNodes({ replayCache: cache });
    for (let i = 0; i < 32; i++) await abandonedRun(i);
    const space = cache.namespace(`provisioning:${EF_ID}`);
    const entries = space.size;
    expect(entries).toBe(96);
    expect(reasonOf(await abandonedRun(32).then(() => undefined, (error: unknown) => error))).toBe('too_many_runs');
    expect(space.size).toBe(entries);
    const session = await other.start({ credentialKind: 'ed25519', credentialId: 'other-svc' });
    const delivery = await world.ef.acceptAuth(await session.acceptChallenge(await world.ef.acceptHello(session.hello)));
    expect(delivery.type).toBe('provisioning.delivery');
    // A window later the node has its slots back.
    world.clock.advance(901_000);
    await abandonedRun(33);
  }, 60_000);

  it('takes its bound from runsPerInitiator, which must be a positive whole number', async () => {
    const { abandonedRun } = await twoNodes({ runsPerInitiator: 2 });
    await abandonedRun(0);
    await abandonedRun(1);
    expect(reasonOf(await abandonedRun(2).then(() => undefined, (error: unknown) => error))).toBe('too_many_runs');
    await expect(twoNodes({ runsPerInitiator: 0 })).rejects.toThrow('runsPerInitiator must be a positive integer');
  }, 60_000);
});
