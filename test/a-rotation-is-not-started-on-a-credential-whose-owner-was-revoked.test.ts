import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { createEngine, type Engine } from '../adapters/engine/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import type { EventStore } from '../domain/ports/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { forge } from './replay.fixtures.ts';
import { embeddedAndStandInStores } from './support/embedded-and-standin-stores.ts';
import { entityState as state } from './support/credential-holders.ts';
import { at, cmd, footprint, operator, rejection, T0 } from './support/fleet.ts';

/*
 * Review 314 (RS-01, HLR-212). Issuing and provisioning a credential (ownerIsLive, reviews 41 and 165) and configuring
 * an association on it (nodeEnrolled) are refused once its owner (its node, or its App-ID) is revoked, in the window
 * before the revocation cascade revokes the credential. Starting its rotation was not: CredentialRotationStarted was
 * held to successorLinked, overlapEndsAfterNotBefore and successorKeepsPurpose alone, and the log showed a rotation
 * started on a revoked node. It is held to ownerIsLive too (machines v13), refused as provisioning is, writing nothing;
 * replay names the rule as newer than a rotation an earlier version stored so.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const registerApplication = () => command('registerApplication', { appId: 'RA', name: 'RA', provider: 'City Utilities' }, { actor: operator });

/** Each owner kind: its credential cred-1 and successor cred-2, the revocation of the owner, and how a refusal names it. */
const OWNERS = [
  {
    kind: 'node',
    a: 'a node',
    issue: (id: string, extra: Record<string, unknown> = {}) => cmd.issueCredential(id, 'meter-1', at(90), extra),
    revoke: () => command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }),
    found: 'node meter-1 is revoked',
  },
  {
    kind: 'App-ID',
    a: 'an App-ID',
    issue: (id: string, extra: Record<string, unknown> = {}) =>
      cmd.issueCredential(id, 'meter-1', at(90), { purpose: 'application', owner: { kind: 'app', id: 'RA' }, ...extra }),
    revoke: () => command('revokeApplication', { appId: 'RA', reason: 'keyCompromise' }, { actor: operator }),
    found: 'App-ID RA is revoked',
  },
] as const;

/** meter-1 enrolled under sub-1, App-ID RA registered; cred-1 of the owner provisioned, and cred-2, its successor, too. */
const withSuccessor = async (engine: Pick<Engine, 'execute'>, owner: (typeof OWNERS)[number]): Promise<void> => {
  for (const c of [
    cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), registerApplication(),
    owner.issue('cred-1'), cmd.provisionCredential('cred-1'), owner.issue('cred-2', { predecessorId: 'cred-1' }), cmd.provisionCredential('cred-2'),
  ]) await engine.execute(c);
};

const refusedAsOwnerNotLive = { code: 'illegal_transition', streamId: 'credential-cred-1', state: 'enrolled', attempted: 'CredentialRotationStarted', rule: 'ownerIsLive' };
const NEWER_RULE = '(rule since credence:machines:v13: an event stored by an earlier version may break it; see docs/service.md, Upgrading)';

describe.each(embeddedAndStandInStores())('starting the rotation of a credential whose owner was revoked, on %s', (_, open) => {
  for (const owner of OWNERS) {
    it(`is refused for ${owner.a} owner (rule ownerIsLive, naming the owner and its state), and writes nothing`, async () => {
      const store: EventStore = await open();
      const engine = createEngine({ store, clock: new FakeClock(T0) });
      await withSuccessor(engine, owner);
      await engine.execute(owner.revoke());
      const before = await footprint(store);
      const refused = await rejection(engine.execute(cmd.startCredentialRotation(at(30))));
      expect(refused.problem).toMatchObject(refusedAsOwnerNotLive);
      expect(refused.message).toContain('credential cred-1 is rotated only while its owner is live');
      expect(refused.message).toContain(owner.found);
      expect(await footprint(store)).toEqual(before);
      expect(await state(engine, 'credential', 'cred-1')).toEqual(['cred-1', 'enrolled', undefined]);
      expect((await replayAll(store)).findings).toEqual([]);
      await store.close();
    });

    it(`is started while the ${owner.kind} owner is live`, async () => {
      const store: EventStore = await open();
      const engine = createEngine({ store, clock: new FakeClock(T0) });
      await withSuccessor(engine, owner);
      await engine.execute(cmd.startCredentialRotation(at(30)));
      const { snapshot } = await engine.entity('credential', 'cred-1');
      expect(snapshot.context).toMatchObject({ successorId: 'cred-2' });
      expect((await replayAll(store)).findings).toEqual([]);
      await store.close();
    });

    it(`stored by an earlier version after the ${owner.kind} owner's revocation, is flagged by replay by a rule newer than it`, async () => {
      const store: EventStore = await open();
      const engine = createEngine({ store, clock: new FakeClock(T0) });
      await withSuccessor(engine, owner);
      await engine.execute(owner.revoke());
      // What v12 accepted: the rotation, after the owner's revocation, before the cascade's.
      await forge(store, 'credential-cred-1', 'CredentialRotationStarted', { credentialId: 'cred-1', successorId: 'cred-2', overlapEndsAt: at(30) }, T0);
      const { findings } = await replayAll(store);
      expect(findings).toHaveLength(1);
      expect(findings[0]).toMatchObject({ streamId: 'credential-cred-1', type: 'CredentialRotationStarted' });
      expect(findings[0]!.reason).toContain('by rule ownerIsLive');
      expect(findings[0]!.reason).toContain(owner.found);
      expect(findings[0]!.reason.endsWith(NEWER_RULE)).toBe(true);
      await store.close();
    });
  }
});

describe('starting a rotation with the cascade running, after revokeNode and before the cascade revoked the credential', () => {
  it('is refused, writes nothing, and the cascade then revokes both credentials', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    await withSuccessor(c.engine, OWNERS[0]);
    await c.settle();
    await c.engine.execute(OWNERS[0].revoke());
    const before = await footprint(c.store as EventStore);
    expect((await rejection(c.engine.execute(cmd.startCredentialRotation(at(30))))).problem).toMatchObject(refusedAsOwnerNotLive);
    expect((await footprint(c.store as EventStore)).count).toBe(before.count);
    await c.settle();
    expect((await state(c.engine, 'credential', 'cred-1'))[1]).toBe('revoked');
    expect((await state(c.engine, 'credential', 'cred-2'))[1]).toBe('revoked');
    expect((await replayAll(c.store)).findings).toEqual([]);
  });
});
