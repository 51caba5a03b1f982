import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { ExpectedRevision, type EventStore, type JsonObject } from '../domain/ports/event-store.ts';
import { replayAll } from '../projections/replay/index.ts';
import { at, cmd, footprint, operator, rejection, T0 } from './support/fleet.ts';

/*
 * Review 234: a node moved to another subscription after its own was terminated, or had passed its notAfter before the
 * scheduler recorded the expiry, escaped the expiry. `NodeEnrolled` read only the new subscription; the cascade's
 * `expireNodeEnrolment(sub-1)` was then refused (subscriptionIsCurrent) and skipped, and the node, its credentials and
 * associations stayed live under sub-2. A re-enrolment now also reads the subscription the node is enrolled under and
 * requires it to serve at that instant (currentSubscriptionServes, machines v7; README "A lapsed subscription retires
 * its nodes for good", docs/service.md). A move in time is accepted as before.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const terminateSub1 = command('terminateSubscription', { subscriptionId: 'sub-1', reason: 'contract ended' }, { actor: operator });
const expireSub1 = command('expireSubscription', { subscriptionId: 'sub-1' }, { actor: operator });
const moveToSub2 = () => cmd.enrolNode('meter-1', 'sub-2');

/** meter-1 under sub-1 (to at(30)), cred-1 provisioned (to at(30)) and sa-1 established on it (to at(20)); sub-2 to at(365). */
const given = [
  cmd.createSubscription('sub-1', at(30)), cmd.createSubscription('sub-2', at(365)), cmd.registerNode(), cmd.enrolNode(),
  cmd.issueCredential('cred-1', 'meter-1', at(30)), cmd.provisionCredential('cred-1'), cmd.configureAssociation(), cmd.establishAssociation('sa-1', at(20)),
];

const state = async (c: Credence, kind: 'credential' | 'association' | 'node', id: string) => String((await c.engine.entity(kind, id)).snapshot.value);

describe('a node cannot move off a subscription that has ended or been terminated (review 234)', () => {
  it('is refused once its subscription was terminated, naming the rule and what it found, and writes nothing', async () => {
    const store = openSqliteStore({ memory: true });
    const clock = new FakeClock(T0);
    const engine = createEngine({ store, clock });
    for (const x of given) await engine.execute(x);
    clock.set(at(5));
    await engine.execute(terminateSub1);
    const before = await footprint(store);
    const error = await rejection(engine.execute(moveToSub2()));
    expect(await footprint(store)).toEqual(before);
    expect(error.problem).toMatchObject({ code: 'illegal_transition', state: 'enrolled', attempted: 'NodeEnrolled', rule: 'currentSubscriptionServes' });
    expect(error.message).toContain('by rule currentSubscriptionServes: ');
    expect(error.message).toContain('subscription sub-1 is revoked');
    expect(error.message).toContain(`this is ${at(5)}`);
  });

  it('is refused once its subscription passed its notAfter, before the scheduler recorded the expiry', async () => {
    const store = openSqliteStore({ memory: true });
    const clock = new FakeClock(T0);
    const engine = createEngine({ store, clock });
    for (const x of given) await engine.execute(x);
    clock.set(at(30));
    const before = await footprint(store);
    const error = await rejection(engine.execute(moveToSub2()));
    expect(await footprint(store)).toEqual(before);
    expect(error.problem).toMatchObject({ code: 'illegal_transition', state: 'enrolled', attempted: 'NodeEnrolled', rule: 'currentSubscriptionServes' });
    expect(error.message).toContain('subscription sub-1 is active');
    expect(error.message).toContain(`to ${at(30)}, and this is ${at(30)}`);
  });

  it('reads the subscription it moves off at its commit: a termination committed between its decision and its append refuses it', async () => {
    const raw = openSqliteStore({ memory: true });
    const clock = new FakeClock(T0);
    const other = createEngine({ store: raw, clock });
    let raced = false;
    let heldSub1 = false;
    // The store as the mover's engine sees it: its append of the move waits for a termination another engine commits.
    const store = new Proxy(raw, {
      get(target, name, receiver) {
        if (name !== 'appendToStream') return Reflect.get(target, name, receiver);
        return async (...args: Parameters<EventStore['appendToStream']>) => {
          const [streamId, events, options] = args;
          if (streamId === 'node-meter-1' && events[0]?.data['subscriptionId'] === 'sub-2' && !raced) {
            raced = true;
            heldSub1 = (options.facts ?? []).some((f) => f.streamId === 'subscription-sub-1');
            await other.execute(terminateSub1);
          }
          return target.appendToStream(...args);
        };
      },
    }) as EventStore;
    const engine = createEngine({ store, clock });
    for (const x of given.slice(0, 4)) await engine.execute(x);
    const error = await rejection(engine.execute(moveToSub2()));
    expect(raced && heldSub1).toBe(true);
    expect(error.problem).toMatchObject({ code: 'illegal_transition', attempted: 'NodeEnrolled', rule: 'currentSubscriptionServes' });
    expect((await raw.readStream('node-meter-1')).map((e) => e.data['subscriptionId'] ?? null)).toEqual([null, 'sub-1']);
  });

  it('after a refused move, the termination\'s cascade expires the node and ends its credential and association', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    for (const x of given) await c.engine.execute(x);
    await c.settle();
    await c.engine.execute(terminateSub1);
    // Before the cascade has run: refused all the same, the node associated (the process manager recorded sa-1 on it).
    expect((await rejection(c.engine.execute(moveToSub2()))).problem).toMatchObject({ code: 'illegal_transition', state: 'associated', attempted: 'NodeEnrolled', rule: 'currentSubscriptionServes' });
    await c.settle();
    expect(await state(c, 'node', 'meter-1')).toBe('expired');
    expect(await state(c, 'credential', 'cred-1')).toBe('revoked');
    expect(await state(c, 'association', 'sa-1')).toBe('revoked');
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('after a move refused past the notAfter, the expiry scheduler\'s tick records the lapse and the cascade expires the node', async () => {
    const clock = new FakeClock(T0);
    const c = (credence = openCredence({ location: { memory: true }, clock }));
    for (const x of given) await c.engine.execute(x);
    await c.settle();
    clock.set(at(30));
    expect((await rejection(c.engine.execute(moveToSub2()))).problem).toMatchObject({ code: 'illegal_transition', state: 'associated', rule: 'currentSubscriptionServes' });
    await c.tick();
    await c.settle();
    expect(String((await c.engine.entity('subscription', 'sub-1')).snapshot.value)).toBe('expired');
    expect(await state(c, 'node', 'meter-1')).toBe('expired');
    // cred-1 and sa-1 end at or before sub-1's notAfter (endsWithinSubscription): the same tick expires them.
    expect(await state(c, 'credential', 'cred-1')).toBe('expired');
    expect(await state(c, 'association', 'sa-1')).toBe('expired');
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('a move in time, before the old subscription ends, is accepted and keeps the node past its expiry', async () => {
    const clock = new FakeClock(T0);
    const c = (credence = openCredence({ location: { memory: true }, clock }));
    for (const x of given) await c.engine.execute(x);
    clock.set(at(29));
    await c.engine.execute(moveToSub2());
    clock.set(at(30));
    await c.engine.execute(expireSub1);
    await c.settle();
    expect(await state(c, 'node', 'meter-1')).toBe('associated');
    expect(await state(c, 'credential', 'cred-1')).toBe('associated');
    expect(await state(c, 'association', 'sa-1')).toBe('associated');
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('replay flags a stored move after the termination as refused by a rule since machines v7', async () => {
    const store: EventStore = openSqliteStore({ memory: true });
    const clock = new FakeClock(T0);
    const engine = createEngine({ store, clock });
    for (const x of [cmd.createSubscription('sub-1', at(30)), cmd.createSubscription('sub-2', at(365)), cmd.registerNode(), cmd.enrolNode()]) await engine.execute(x);
    clock.set(at(5));
    await engine.execute(terminateSub1);
    // What machines v6 accepted and stored: the move, as enrolNode records it.
    const stream = await store.readStream('node-meter-1');
    const metadata: JsonObject = {
      schemaVersion: 1, actor: operator as unknown as JsonObject, commandId: crypto.randomUUID(), commandType: 'enrolNode',
      correlationId: 'c', causationId: 'c', occurredAt: at(6),
    };
    await store.appendToStream('node-meter-1', [{ id: crypto.randomUUID(), type: 'NodeEnrolled', data: { nodeId: 'meter-1', subscriptionId: 'sub-2', cseId: '/cse-meter-1' }, metadata }], {
      expectedRevision: ExpectedRevision.after(stream.at(-1)?.revision),
    });
    const { findings } = await replayAll(store);
    const finding = findings.find((f) => f.streamId === 'node-meter-1' && f.type === 'NodeEnrolled');
    expect(finding, findings.map((f) => `${f.streamId} ${f.type}: ${f.reason}`).join('\n')).toBeDefined();
    expect(finding!.reason).toContain('by rule currentSubscriptionServes');
    expect(finding!.reason).toContain('subscription sub-1 is revoked');
    expect(finding!.reason).toContain('(rule since credence:machines:v7: an event stored by an earlier version may break it; see docs/service.md, Upgrading)');
  });
});
