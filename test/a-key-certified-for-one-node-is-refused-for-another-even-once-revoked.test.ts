import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { createEngine, type Engine } from '../adapters/engine/index.ts';
import type { EventStore } from '../domain/ports/index.ts';
import { embeddedAndStandInStores } from './support/embedded-and-standin-stores.ts';
import { at, cmd, footprint, placeholderKey, rejection, T0 } from './support/fleet.ts';

/*
 * SER-010 (protection against misuse, cloning, substitution or theft of security credentials). keyIsNew refused a
 * successor on its predecessor's key and a credential on its node's factory key, and nothing else: a key cloned onto a
 * second device was certified for it too, and revoking the first as keyCompromise left the clone's credential
 * standing. A key is certified once in the fleet now, ever (keyNeverCertified), on every store, and a refused issue
 * writes nothing.
 */
const cloned = placeholderKey('the key meter-1 was issued');

/** meter-1 and meter-2 enrolled under sub-1; cred-a issued to meter-1 on the key `cloned`. */
const twoNodes = async (store: EventStore): Promise<Engine> => {
  const engine = createEngine({ store, clock: new FakeClock(T0) });
  for (const c of [cmd.createSubscription(), cmd.registerNode('meter-1'), cmd.registerNode('meter-2'), cmd.enrolNode('meter-1'), cmd.enrolNode('meter-2')]) {
    await engine.execute(c);
  }
  await engine.execute(cmd.issueCredential('cred-a', 'meter-1', at(90), cloned));
  await engine.execute(cmd.provisionCredential('cred-a'));
  return engine;
};

describe.each(embeddedAndStandInStores())('a key certified for one node, on %s', (_, open) => {
  it("is refused for another node's credential, naming the rule and the credential it was issued for, and nothing is written", async () => {
    const store = await open();
    const engine = await twoNodes(store);
    const before = await footprint(store);
    const refused = await rejection(engine.execute(cmd.issueCredential('cred-b', 'meter-2', at(90), cloned)));
    expect(refused.problem).toMatchObject({ code: 'illegal_transition', streamId: 'credential-cred-b', attempted: 'CredentialIssued', rule: 'keyNeverCertified' });
    // An operator issues it, who may know every credential: the refusal names the one the key was issued for.
    expect(refused.message).toContain('credential cred-b carries the key credential cred-a was issued on');
    expect(await footprint(store)).toEqual(before);
    expect(await store.readStream('credential-cred-b')).toHaveLength(0);
    // Another key is issued to meter-2 as before.
    await expect(engine.execute(cmd.issueCredential('cred-b', 'meter-2'))).resolves.toMatchObject({ state: 'initialized' });
    await store.close();
  });

  it('is refused still once that credential was revoked as keyCompromise, and for its own node too', async () => {
    const store = await open();
    const engine = await twoNodes(store);
    await engine.execute(cmd.revokeCredential('cred-a', 'keyCompromise'));
    const before = await footprint(store);
    for (const [credentialId, nodeId] of [['cred-b', 'meter-2'], ['cred-c', 'meter-1']] as const) {
      const refused = await rejection(engine.execute(cmd.issueCredential(credentialId, nodeId, at(90), cloned)));
      expect(refused.problem).toMatchObject({ code: 'illegal_transition', rule: 'keyNeverCertified' });
    }
    expect(await footprint(store)).toEqual(before);
    await store.close();
  });

  it('is refused by a second engine (another process) whose cache never saw it issued', async () => {
    const store = await open();
    await twoNodes(store);
    const other = createEngine({ store, clock: new FakeClock(T0) });
    const before = await footprint(store);
    const refused = await rejection(other.execute(cmd.issueCredential('cred-b', 'meter-2', at(90), cloned)));
    expect(refused.problem).toMatchObject({ code: 'illegal_transition', rule: 'keyNeverCertified' });
    expect(await footprint(store)).toEqual(before);
    await store.close();
  });
});
