import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { at, cmd, footprint, rejection, T0 } from './support/fleet.ts';

/*
 * Found in review: a credential or subscription whose notAfter had passed when it was recorded was accepted, born
 * expired (a credential no node could use, a subscription no node could enrol under). New ones are refused at
 * the decision with a typed error naming the field, and nothing is written; stored histories replay as before.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const open = async () => {
  const clock = new FakeClock(T0);
  const c = (credence = openCredence({ location: { memory: true }, clock }));
  for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode()]) await c.engine.execute(x);
  return { c, clock };
};

describe('a new credential or subscription must still be valid when it is recorded', () => {
  it('refuses a credential whose notAfter is now or past, naming the field, and writes nothing', async () => {
    const { c, clock } = await open();
    clock.set(at(10));
    const before = await footprint(c.store);
    for (const notAfter of [at(10), at(9)]) {
      const error = await rejection(c.engine.execute(cmd.issueCredential('cred-1', 'meter-1', notAfter)));
      expect(error.problem).toMatchObject({ code: 'validation', issues: [{ path: 'data.notAfter', rule: 'after_now' }] });
      expect(error.message).toContain(at(10));
    }
    expect(await footprint(c.store)).toEqual(before);
    // A millisecond later is still valid: the rule is strictly "not yet ended".
    await c.engine.execute(cmd.issueCredential('cred-1', 'meter-1', new Date(Date.parse(at(10)) + 1).toISOString()));
  });

  it('refuses a subscription whose notAfter is past, and writes nothing', async () => {
    const { c, clock } = await open();
    clock.set(at(10));
    const before = await footprint(c.store);
    const error = await rejection(c.engine.execute(cmd.createSubscription('sub-late', at(5))));
    expect(error.problem).toMatchObject({ code: 'validation', issues: [{ path: 'data.notAfter', rule: 'after_now' }] });
    expect(await footprint(c.store)).toEqual(before);
  });

  it('answers a retry of one recorded while valid with its first outcome, also once its notAfter has passed', async () => {
    for (const cached of [true, false]) {
      const { c, clock } = await open();
      const plain = cmd.issueCredential('cred-1', 'meter-1', at(10));
      const issue = { ...plain, metadata: { ...plain.metadata, commandId: crypto.randomUUID() } };
      const first = await c.engine.execute(issue);
      clock.set(at(11));
      // Once forgotten by the cache, a command that starts an entity is decided without a read first.
      const engine = cached ? c.engine : openCredence({ location: { memory: true }, clock, store: c.store }).engine;
      const again = await engine.execute(issue);
      expect(again.deduplicated).toBe(true);
      expect(again.events.map((e) => e.id)).toEqual(first.events.map((e) => e.id));
      await credence?.close();
      credence = undefined;
    }
  });

  it('judges at the instant of recording, not the one the credential was asked for earlier', async () => {
    const { c, clock } = await open();
    await c.engine.execute(cmd.issueCredential('cred-1', 'meter-1', at(10)));
    clock.set(at(20));
    expect((await rejection(c.engine.execute(cmd.issueCredential('cred-2', 'meter-1', at(10))))).problem.code).toBe('validation');
    // The one recorded while valid is stored history: replay accepts it whatever the time now.
    expect((await replayAll(c.store)).findings).toEqual([]);
  });
});
