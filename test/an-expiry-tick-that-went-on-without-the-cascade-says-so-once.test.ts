/*
 * Review 349: an expiry tick waits at most 5 s for the cascade to react to the endings it recorded before a deadline
 * due later (review 293), and once a wait ran out goes on without it for the rest of the tick: entities due later may
 * then end expired where the cascade would have revoked them, and nothing told an operator. The live runtime now
 * reports it (so the service logs it as a live component failure) once for each tick in which the wait ran out, and
 * never when the cascade caught up; the component's status is not made failing by it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, startLive, type Credence } from '../adapters/runtime/index.ts';
import { CascadeNotWaitedFor } from '../adapters/runtime/live.ts';
import { at, cmd } from './support/fleet.ts';

let open: Credence[] = [];
afterEach(async () => {
  for (const c of open) await c.close();
  open = [];
});

const until = async (done: () => boolean | Promise<boolean>, ms: number): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!(await done()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
};

/**
 * meter-1 moved from sub-A (ends at day 100) to sub-B (ends at day 10), its cred-1 valid to day 20 and sa-1 to day 15:
 * deadlines at days 10 and 15 (the first tick, at day 16), then 20 and 100 (the second, at day 400). With `stuck`, the
 * cascade takes nothing in from the first tick on, until released: each tick's wait for it runs out.
 */
const twoTicks = async (stuck: boolean) => {
  const clock = new FakeClock(at(0));
  const c = openCredence({ location: { memory: true }, clock });
  open.push(c);
  for (const x of [
    cmd.createSubscription('sub-A', at(100)), cmd.createSubscription('sub-B', at(10)), cmd.registerNode(), cmd.enrolNode('meter-1', 'sub-A'),
    cmd.issueCredential('cred-1', 'meter-1', at(20)), cmd.provisionCredential('cred-1'),
    cmd.configureAssociation('sa-1', 'cred-1'), cmd.establishAssociation('sa-1', at(15)),
    cmd.enrolNode('meter-1', 'sub-B'),
  ]) await c.engine.execute(x);
  await c.settle();

  let gate: Promise<void> | undefined;
  let release = (): void => undefined;
  const { runner } = c;
  const catchUp = runner.catchUp.bind(runner);
  const handle = runner.handle.bind(runner);
  runner.catchUp = async (name) => {
    if (name === 'cascade' && gate !== undefined) await gate;
    return catchUp(name);
  };
  runner.handle = async (name, records, generation) => {
    if (name === 'cascade' && gate !== undefined) await gate;
    return handle(name, records, generation);
  };

  const reported: { component: string; error: unknown }[] = [];
  // The monotonic clock moves with the fake one: the wall-clock guard holds no tick for the steps below.
  const live = startLive(c, { tickMs: 10, monotonicNow: () => clock.now().getTime(), onError: (component, error) => reported.push({ component, error }) });
  const saidOfTheCascade = () => reported.filter((r) => r.error instanceof CascadeNotWaitedFor);
  const ended = async () => {
    const types: string[] = [];
    for await (const e of c.store.readAll({ filter: { eventTypes: ['SubscriptionExpired', 'AssociationExpired', 'AssociationRevoked', 'CredentialExpired', 'CredentialRevoked'] } })) types.push(e.type);
    return types;
  };
  try {
    await live.start();
    if (stuck) gate = new Promise<void>((r) => (release = r));
    clock.set(new Date(at(16)));
    // The first tick: sub-B's end at day 10, then (a wait) sa-1's at day 15.
    await until(async () => (stuck ? saidOfTheCascade().length >= 1 : (await ended()).length >= 2), 15_000);
    await until(() => false, 300);
    const afterFirst = saidOfTheCascade().length;
    clock.set(new Date(at(400)));
    // The second: cred-1's end at day 20 (a wait, owed since the first tick), then sub-A's at day 100.
    await until(async () => (stuck ? saidOfTheCascade().length >= 2 : (await ended()).includes('CredentialRevoked')), 15_000);
    // Ticks with nothing due wait for nothing and say nothing.
    await until(() => false, 500);
    const status = await live.status();
    release();
    const head = await c.store.headPosition();
    if (head !== undefined) await live.caughtUp(head, 5_000);
    return { afterFirst, said: saidOfTheCascade(), reported, status };
  } finally {
    release();
    await live.stop();
  }
};

describe('an expiry tick whose wait for the cascade ran out (review 349)', () => {
  it('is said once for each tick in which it ran out, under expiry, naming what may have ended otherwise', async () => {
    const { afterFirst, said, status } = await twoTicks(true);
    expect(afterFirst).toBe(1);
    expect(said).toHaveLength(2);
    for (const { component, error } of said) {
      expect(component).toBe('expiry');
      expect((error as Error).message).toBe(
        'expiry went on without waiting for the cascade (it did not catch up within 5 s): entities due later in this tick may end expired where the cascade would have revoked them',
      );
    }
    // Said, not failing: the ticks went through.
    const expiry = status.find((s) => s.name === 'expiry');
    expect(expiry?.error).toBeUndefined();
  }, 60_000);

  it('is never said when the cascade caught up', async () => {
    const { said, reported } = await twoTicks(false);
    expect(said).toEqual([]);
    expect(reported).toEqual([]);
  }, 60_000);
});
