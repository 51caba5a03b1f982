import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import type { EventStore } from '../domain/ports/index.ts';
import { embeddedAndStandInStores } from './support/embedded-and-standin-stores.ts';
import { at, cmd, placeholderKey, T0 } from './support/fleet.ts';

/*
 * SER-010 (keyNeverCertified). A decision holds against every fact it read at the moment it commits: two issues of
 * one key to two nodes, each deciding while the other had not appended yet (both read the key as certified by no
 * one), must not both be stored. The store binds the key to the first append (AppendOptions.certifiesKey); the other
 * conflicts, is decided again, and is refused by the rule.
 */
const cloned = placeholderKey('one key on two devices');

/**
 * The store, its index of certified keys answering the first `readers` asks only once all of them have asked: each
 * decision has read the key as certified by no one before either appends. Later asks (a retry) go straight through.
 */
const readTogether = (store: EventStore, readers: number): EventStore => {
  let waiting: (() => void)[] = [];
  let gated = readers;
  const keyCertifiedBy = async (fingerprint: string): Promise<string | undefined> => {
    const answer = await store.keyCertifiedBy!(fingerprint);
    if (gated > 0) {
      gated--;
      await new Promise<void>((resolve) => {
        waiting.push(resolve);
        if (gated === 0) waiting.splice(0).forEach((go) => go());
      });
    }
    return answer;
  };
  return new Proxy(store, {
    get: (target, name) => {
      if (name === 'keyCertifiedBy') return keyCertifiedBy;
      const value = Reflect.get(target, name, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
};

describe.each(embeddedAndStandInStores())('two concurrent issues of one key to two nodes, on %s', (_, open) => {
  it('store exactly one: the other is refused by keyNeverCertified after its conflict', async () => {
    const store = await open();
    const setup = createEngine({ store, clock: new FakeClock(T0) });
    for (const c of [cmd.createSubscription(), cmd.registerNode('meter-1'), cmd.registerNode('meter-2'), cmd.enrolNode('meter-1'), cmd.enrolNode('meter-2')]) {
      await setup.execute(c);
    }
    const gated = readTogether(store, 2);
    // Two engines (two processes): neither's cache or stream lane orders the other's decision.
    const [one, two] = [createEngine({ store: gated, clock: new FakeClock(T0) }), createEngine({ store: gated, clock: new FakeClock(T0) })];
    const outcomes = await Promise.allSettled([
      one.execute(cmd.issueCredential('cred-a', 'meter-1', at(90), cloned)),
      two.execute(cmd.issueCredential('cred-b', 'meter-2', at(90), cloned)),
    ]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const [refused] = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(isCredenceError(refused?.reason)).toBe(true);
    expect(refused!.reason.problem).toMatchObject({ code: 'illegal_transition', attempted: 'CredentialIssued', rule: 'keyNeverCertified' });
    const issued: string[] = [];
    for await (const r of store.readAll()) if (r.type === 'CredentialIssued' && r.data['fingerprint'] === cloned.fingerprint) issued.push(r.streamId);
    expect(issued).toHaveLength(1);
    await store.close();
  });
});
