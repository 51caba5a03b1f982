import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine, type Engine } from '../adapters/engine/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import type { EventStore } from '../domain/ports/event-store.ts';
import { replayAll } from '../projections/replay/index.ts';
import { forge } from './replay.fixtures.ts';
import { entityState as state, racing } from './support/credential-holders.ts';
import { at, cmd, footprint, operator, rejection, T0 } from './support/fleet.ts';

/*
 * Review 165 F1 (RS-01; seed 003 11.2.1: service provisioning is performed only when an M2M Node is enrolled). Issuing
 * checked that the owner was live (ownerIsLive), provisioning never looked at the owner again: a credential issued to
 * meter-1 (or a CSE-ID of it, App-ID RA, or an AE-ID of RA) was provisioned after revokeNode (revokeApplication), and
 * replay said nothing. Provisioning now reads the owner's holder as a fact and is held to the same rule, at the commit.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const revokeNode = () => command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator });
const revokeApplication = () => command('revokeApplication', { appId: 'RA', reason: 'keyCompromise' }, { actor: operator });
const registerApplication = () => command('registerApplication', { appId: 'RA', name: 'RA', provider: 'City Utilities' }, { actor: operator });

/** Each owner kind: the issue, and the revocation of its holder. */
const OWNERS = [
  { kind: 'node', issue: cmd.issueCredential('cred-1'), revoke: revokeNode },
  { kind: 'cse@node', issue: cmd.issueCredential('cred-1', 'meter-1', at(90), { owner: { kind: 'cse', id: '/cse-meter-1', nodeId: 'meter-1' } }), revoke: revokeNode },
  { kind: 'app', issue: cmd.issueCredential('cred-1', 'meter-1', at(90), { purpose: 'application', owner: { kind: 'app', id: 'RA' } }), revoke: revokeApplication },
  { kind: 'ae@app', issue: cmd.issueCredential('cred-1', 'meter-1', at(90), { owner: { kind: 'ae', id: 'Cx', appId: 'RA' } }), revoke: revokeApplication },
] as const;

/** meter-1 enrolled under sub-1, App-ID RA registered: every owner above is live. */
const setUp = async (engine: Pick<Engine, 'execute'>): Promise<void> => {
  for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), registerApplication()]) await engine.execute(x);
};
const plainFleet = async () => {
  const store = openSqliteStore({ memory: true });
  const clock = new FakeClock(T0);
  const engine = createEngine({ store, clock });
  await setUp(engine);
  return { store, clock, engine };
};
const refusedAsOwnerNotLive = { code: 'illegal_transition', streamId: 'credential-cred-1', state: 'initialized', attempted: 'CredentialProvisioned', rule: 'ownerIsLive' };

describe('provisioning a credential after its owner was revoked (review 165 F1)', () => {
  for (const { kind, issue, revoke } of OWNERS) {
    it(`is refused for a ${kind} owner, naming the rule and the state, and writes nothing`, async () => {
      const { store, engine } = await plainFleet();
      await engine.execute(issue);
      await engine.execute(revoke());
      const before = await footprint(store);
      const error = await rejection(engine.execute(cmd.provisionCredential('cred-1')));
      expect(error.problem).toMatchObject(refusedAsOwnerNotLive);
      expect(error.message).toContain('provisioned only while its owner is live');
      expect(await footprint(store)).toEqual(before);
      expect((await state(engine, 'credential', 'cred-1'))[1]).toBe('initialized');
      expect((await replayAll(store)).findings).toEqual([]);
    });

    it(`conflicts at the commit for a ${kind} owner revoked between the decision and the append, and is refused`, async () => {
      const { store, clock, engine } = await plainFleet();
      await engine.execute(issue);
      const raced = createEngine({ store: racing(store, 'credential-cred-1', async () => void (await engine.execute(revoke()))), clock });
      expect((await rejection(raced.execute(cmd.provisionCredential('cred-1')))).problem).toMatchObject(refusedAsOwnerNotLive);
      expect((await state(engine, 'credential', 'cred-1'))[1]).toBe('initialized');
      expect((await replayAll(store)).findings).toEqual([]);
    });

    it(`is flagged by replay when stored past the engine, for a ${kind} owner (judged by the rule replay runs)`, async () => {
      const { store, engine } = await plainFleet();
      await engine.execute(issue);
      await engine.execute(revoke());
      await forge(store, 'credential-cred-1', 'CredentialProvisioned', { credentialId: 'cred-1', method: 'pre-provisioning' }, T0);
      const { findings } = await replayAll(store);
      expect(findings).toEqual([expect.objectContaining({ streamId: 'credential-cred-1', reason: expect.stringContaining('ownerIsLive') })]);
    });
  }

  it('is refused with the cascade too, before it has revoked the credential (openCredence, no settle)', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    await setUp(c.engine);
    await c.engine.execute(cmd.issueCredential('cred-1'));
    await c.settle();
    await c.engine.execute(revokeNode());
    const before = await footprint(c.store as EventStore);
    expect((await rejection(c.engine.execute(cmd.provisionCredential('cred-1')))).problem).toMatchObject({ code: 'illegal_transition', rule: 'ownerIsLive' });
    expect((await footprint(c.store as EventStore)).count).toBe(before.count);
    await c.settle();
    expect((await state(c.engine, 'credential', 'cred-1'))[1]).toBe('revoked');
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('still provisions while the owner is live, for every owner kind', async () => {
    for (const { issue } of OWNERS) {
      const { store, engine } = await plainFleet();
      await engine.execute(issue);
      await engine.execute(cmd.provisionCredential('cred-1'));
      expect((await state(engine, 'credential', 'cred-1'))[1]).toBe('enrolled');
      expect((await replayAll(store)).findings).toEqual([]);
    }
  });
});
