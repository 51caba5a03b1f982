import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { nodePseudonym, PseudonymDeriver, resolvePseudonym, secureEnvironmentPseudonymKey } from '../projections/pseudonyms/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { InspectableSecureEnvironment } from './support/inspectable-secure-environment.ts';
import { auditor, cmd, operator, T0 } from './support/fleet.ts';

/*
 * The integrator stream names a node by its epoch-0 pseudonym from its registration on. The rotation recording that
 * pseudonym is a reaction to the registration, decided against the node as it is when the reaction runs: a node
 * revoked (or whose enrolment expired) before then was refused its first pseudonym, and the stream named it under a
 * pseudonym no auditor could resolve (found in review). The first pseudonym is now recorded whatever became of the
 * node; a later one still needs a live node.
 */
describe('a node that ended before its first rotation ran', () => {
  it('has its first pseudonym recorded, resolvable by an auditor, and no later one', async () => {
    const se = InspectableSecureEnvironment.open({ database: ':memory:', kek: { source: 'ephemeral' } }, { now: () => new Date(T0), random: (n) => new Uint8Array(randomBytes(n)) });
    const key = secureEnvironmentPseudonymKey(se.forOwner('credence:pseudonyms'), await se.generate('credence:pseudonyms', 'psk256'));
    const c = openCredence({ location: { memory: true }, clock: new FakeClock(T0), pseudonyms: { key } });
    try {
      // Registered, enrolled and revoked before any projection ran (a catch-up after a crash, a rebuild, one batch).
      for (const step of [cmd.createSubscription(), cmd.registerNode('meter-1'), cmd.enrolNode('meter-1')]) await c.engine.execute(step);
      await c.engine.execute(command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }));
      await c.settle();

      const first = await new PseudonymDeriver(key).node('meter-1', 0);
      expect(nodePseudonym(c.readModels, 'meter-1')).toMatchObject({ epoch: 0, pseudonym: first });
      const resolution = await resolvePseudonym(c.engine, { pseudonym: first, reason: 'incident 12', actor: auditor });
      expect(resolution).toMatchObject({ nodeId: 'meter-1', epoch: 0 });

      // A later pseudonym is still refused: the node is revoked.
      expect(await c.pseudonyms!.rotateNow('meter-1', operator)).toMatchObject({ outcome: 'skipped', reason: expect.stringContaining('nodeIsLive') });
      expect(nodePseudonym(c.readModels, 'meter-1')?.epoch).toBe(0);
      // Replay judges the history through the same machines and accepts it.
      expect((await replayAll(c.store)).findings).toEqual([]);
    } finally {
      await c.close();
      se.close();
    }
  });
});
