import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import type { EventStore } from '../domain/ports/event-store.ts';
import { replayAll, replayEntity } from '../projections/replay/index.ts';
import { forge } from './replay.fixtures.ts';
import { at, cmd, footprint, operator, rejection, T0 } from './support/fleet.ts';

/*
 * Review 295: `credence node enrol fm-1 --subscription fm-sub --cse-id /fm-1-cse` on a node already enrolled so
 * recorded another NodeEnrolled that changed nothing ("node-fm-1 is now associated (NodeEnrolled @242)"), and each
 * rerun under a fresh command id grew the log by one. An enrolment now changes the subscription or the CSE-ID
 * (enrolmentChanges, machines v12); a move, or a new CSE-ID under the same subscription, is accepted as before.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const enrol = (subscriptionId: string, cseId: string) => command('enrolNode', { nodeId: 'meter-1', subscriptionId, cseId }, { actor: operator });

/** meter-1 enrolled under sub-1 as /cse-meter-1 (cmd.enrolNode), sub-2 recorded beside it. */
const enrolledEngine = async () => {
  const store = openSqliteStore({ memory: true });
  const engine = createEngine({ store, clock: new FakeClock(T0) });
  for (const x of [cmd.createSubscription('sub-1', at(365)), cmd.createSubscription('sub-2', at(365)), cmd.registerNode(), cmd.enrolNode()]) await engine.execute(x);
  return { store, engine };
};

const subscriptions = async (store: EventStore) =>
  (await store.readStream('node-meter-1')).filter((e) => e.type === 'NodeEnrolled').map((e) => `${e.data['subscriptionId']} ${e.data['cseId']}`);

describe('a node enrolled again under its subscription and CSE-ID is refused and nothing is written (review 295)', () => {
  it('is refused while enrolled, naming the rule, the node, the subscription and the CSE-ID, and the event count is unchanged', async () => {
    const { store, engine } = await enrolledEngine();
    const before = await footprint(store);
    const error = await rejection(engine.execute(enrol('sub-1', '/cse-meter-1')));
    expect(await footprint(store)).toEqual(before);
    expect(error.problem).toMatchObject({ code: 'illegal_transition', state: 'enrolled', attempted: 'NodeEnrolled', rule: 'enrolmentChanges' });
    expect(error.message).toContain('by rule enrolmentChanges: ');
    for (const named of ['node meter-1', 'subscription sub-1', 'CSE-ID /cse-meter-1', 'nothing would change']) expect(error.message).toContain(named);
  });

  it('is refused while associated too, each rerun under a fresh command id alike', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    for (const x of [cmd.createSubscription('sub-1', at(365)), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential(), cmd.provisionCredential(),
      cmd.configureAssociation(), cmd.establishAssociation()]) await c.engine.execute(x);
    await c.settle();
    expect(String((await c.engine.entity('node', 'meter-1')).snapshot.value)).toBe('associated');
    const before = await footprint(c.store);
    for (let i = 0; i < 3; i++) {
      const error = await rejection(c.engine.execute(enrol('sub-1', '/cse-meter-1')));
      expect(error.problem).toMatchObject({ code: 'illegal_transition', state: 'associated', attempted: 'NodeEnrolled', rule: 'enrolmentChanges' });
    }
    expect(await footprint(c.store)).toEqual(before);
    expect(await subscriptions(c.store)).toEqual(['sub-1 /cse-meter-1']);
  });

  it('accepts a new CSE-ID under the same subscription, and a move to another subscription under the same CSE-ID', async () => {
    const { store, engine } = await enrolledEngine();
    await engine.execute(enrol('sub-1', '/cse-meter-1b'));
    await engine.execute(enrol('sub-2', '/cse-meter-1b'));
    expect(await subscriptions(store)).toEqual(['sub-1 /cse-meter-1', 'sub-1 /cse-meter-1b', 'sub-2 /cse-meter-1b']);
    // Back to what it was enrolled with before is a change too.
    await engine.execute(enrol('sub-1', '/cse-meter-1'));
    expect((await replayAll(store)).findings).toEqual([]);
  });
});

describe('a duplicate enrolment a store of machines v11 holds', () => {
  it('is a finding by a rule newer than the stored event, and the node stands as it did', async () => {
    const { store } = await enrolledEngine();
    await forge(store, 'node-meter-1', 'NodeEnrolled', { nodeId: 'meter-1', subscriptionId: 'sub-1', cseId: '/cse-meter-1' }, T0);
    const { findings } = await replayAll(store);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ streamId: 'node-meter-1', type: 'NodeEnrolled', rule: 'enrolmentChanges', ruleSince: 'credence:machines:v12' });
    expect(findings[0]!.reason).toContain('by rule enrolmentChanges');
    expect(findings[0]!.reason.endsWith('(rule since credence:machines:v12: an event stored by an earlier version may break it; see docs/service.md, Upgrading)')).toBe(true);
    const entity = await replayEntity(store, 'node-meter-1');
    expect(entity.state).toBe('enrolled');
    expect(entity.verdict).toMatchObject({ ok: false, findings: [{ reason: findings[0]!.reason }] });
  });

  it('still loads in the engine, which takes a move and refuses the duplicate again', async () => {
    const { store, engine } = await enrolledEngine();
    await forge(store, 'node-meter-1', 'NodeEnrolled', { nodeId: 'meter-1', subscriptionId: 'sub-1', cseId: '/cse-meter-1' }, T0);
    expect((await rejection(engine.execute(enrol('sub-1', '/cse-meter-1')))).problem).toMatchObject({ code: 'illegal_transition', rule: 'enrolmentChanges' });
    await engine.execute(enrol('sub-2', '/cse-meter-1'));
    expect(await subscriptions(store)).toEqual(['sub-1 /cse-meter-1', 'sub-1 /cse-meter-1', 'sub-2 /cse-meter-1']);
  });
});
