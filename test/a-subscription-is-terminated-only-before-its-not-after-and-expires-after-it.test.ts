import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { command } from '../domain/commands/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { forge } from './replay.fixtures.ts';
import { at, cmd, footprint, operator, rejection, system, T0 } from './support/fleet.ts';

/*
 * Review 355: SubscriptionTerminated had no guard, so a subscription past its notAfter, its expiry not yet recorded by
 * the scheduler, could be terminated: the log then said an operator ended it early (`credence subscription terminate`:
 * "end a subscription before its time") when it had simply run out. A termination is now taken only before the
 * notAfter (terminatedBeforeItsEnd, machines v14); at or past it the subscription is expired (`credence subscription
 * expire`), as the scheduler records it.
 */

const terminate = command('terminateSubscription', { subscriptionId: 'sub-1', reason: 'contract ended' }, { actor: operator });
const expire = command('expireSubscription', { subscriptionId: 'sub-1' }, { actor: operator });

const withSub1To = (notAfter: string) => {
  const store = openSqliteStore({ memory: true });
  const clock = new FakeClock(T0);
  const engine = createEngine({ store, clock });
  return { store, clock, engine, given: () => engine.execute(cmd.createSubscription('sub-1', notAfter)) };
};

describe('a subscription is terminated only before its notAfter (review 355)', () => {
  it('refuses a termination at or past the notAfter, naming the rule, what it found and the command to use, and writes nothing', async () => {
    for (const when of [at(30), new Date(Date.parse(at(30)) + 3_600_000).toISOString()]) {
      const { store, clock, engine, given } = withSub1To(at(30));
      await given();
      clock.set(when);
      const before = await footprint(store);
      const error = await rejection(engine.execute(terminate));
      expect(await footprint(store)).toEqual(before);
      expect(error.problem).toMatchObject({ code: 'illegal_transition', state: 'active', attempted: 'SubscriptionTerminated', rule: 'terminatedBeforeItsEnd' });
      expect(error.message).toContain('by rule terminatedBeforeItsEnd: ');
      expect(error.message).toContain(`subscription sub-1 has notAfter ${at(30)}, and this is ${when}`);
      expect(error.message).toContain('credence subscription expire sub-1');
      expect(String((await engine.entity('subscription', 'sub-1')).snapshot.value)).toBe('active');
    }
  });

  it('takes a termination a millisecond before the notAfter', async () => {
    const { clock, engine, given } = withSub1To(at(30));
    await given();
    clock.set(new Date(Date.parse(at(30)) - 1).toISOString());
    await engine.execute(terminate);
    expect(String((await engine.entity('subscription', 'sub-1')).snapshot.value)).toBe('revoked');
  });

  it('records the expiry as before once the notAfter is reached, the termination refused first', async () => {
    const { clock, engine, given } = withSub1To(at(30));
    await given();
    clock.set(at(31));
    await rejection(engine.execute(terminate));
    await engine.execute(expire);
    expect(String((await engine.entity('subscription', 'sub-1')).snapshot.value)).toBe('expired');
  });

  it('loads a termination an earlier version stored past the notAfter, so the enrolments under it still end, and replay names the newer rule (review 356)', async () => {
    const { store, clock, engine, given } = withSub1To(at(30));
    await given();
    await engine.execute(cmd.registerNode());
    await engine.execute(cmd.enrolNode());
    await forge(store, 'subscription-sub-1', 'SubscriptionTerminated', { subscriptionId: 'sub-1', reason: 'contract ended' }, new Date(Date.parse(at(30)) + 3_600_000).toISOString());
    clock.set(at(31));
    expect(String((await engine.entity('subscription', 'sub-1')).snapshot.value)).toBe('revoked');
    await engine.executeAsSystem(command('expireNodeEnrolment', { nodeId: 'meter-1', subscriptionId: 'sub-1' }, { actor: system }));
    expect(String((await engine.entity('node', 'meter-1')).snapshot.value)).not.toBe('enrolled');
    const replay = await replayAll(store);
    expect(replay.findings.map((f) => [f.streamId, f.rule, f.ruleSince])).toEqual([['subscription-sub-1', 'terminatedBeforeItsEnd', 'credence:machines:v14']]);
  });
});
