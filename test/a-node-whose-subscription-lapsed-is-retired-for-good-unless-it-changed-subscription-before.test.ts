import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { at, cmd, operator, profile, rejection, T0 } from './support/fleet.ts';

/*
 * RS-17, seed 003 11.2.1, review 165 (F3): pins what README.md says of a subscription that lapses. A node still
 * enrolled under it when it ends is `expired` (final): its bootstrap credential, its other credentials and its
 * associations are revoked `cessationOfOperation`, and no later subscription takes it back. A change of subscription
 * (`enrolNode` under another one) made before the notAfter keeps the node. The way back is a new node id with a new
 * bootstrap credential.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const register = (nodeId: string, bootstrapCredentialId: string) => command('registerNode', { nodeId, profile, bootstrapCredentialId }, { actor: operator });
const enrol = (nodeId: string, subscriptionId: string) => command('enrolNode', { nodeId, subscriptionId, cseId: '/cse-meter-1' }, { actor: operator });
const expireSub1 = command('expireSubscription', { subscriptionId: 'sub-1' }, { actor: operator });
const state = async (c: Credence, kind: 'credential' | 'association' | 'node', id: string) => {
  const { snapshot } = await c.engine.entity(kind, id);
  return [String(snapshot.value), snapshot.context.revocationReason];
};

/**
 * meter-1 (bootstrap boot-1) enrolled under sub-1 (to at(30)) and associated as sa-1 (to at(20)) on cred-1 (to at(30):
 * a node's service credential ends by its subscription's end, endsWithinSubscription, review 197); sub-2 runs to at(365).
 */
const open = async () => {
  const clock = new FakeClock(T0);
  const c = (credence = openCredence({ location: { memory: true }, clock }));
  for (const x of [
    cmd.createSubscription('sub-1', at(30)), cmd.createSubscription('sub-2', at(365)),
    register('meter-1', 'boot-1'), cmd.issueCredential('boot-1', 'meter-1', at(300), { purpose: 'bootstrap' }), cmd.provisionCredential('boot-1'),
    enrol('meter-1', 'sub-1'), cmd.issueCredential('cred-1', 'meter-1', at(30)), cmd.provisionCredential('cred-1'),
    cmd.configureAssociation('sa-1', 'cred-1'), cmd.establishAssociation('sa-1', at(20)),
  ]) await c.engine.execute(x);
  return { c, clock };
};

describe('a node whose subscription lapses (RS-17)', () => {
  it('moved to another subscription before the notAfter, it keeps everything', async () => {
    const { c, clock } = await open();
    clock.set(at(10));
    await c.engine.execute(enrol('meter-1', 'sub-2'));
    clock.set(at(30));
    await c.engine.execute(expireSub1);
    await c.settle();
    expect(await state(c, 'node', 'meter-1')).toEqual(['associated', undefined]);
    expect(await state(c, 'credential', 'boot-1')).toEqual(['enrolled', undefined]);
    expect(await state(c, 'association', 'sa-1')).toEqual(['associated', undefined]);
  });

  it('still under it, is expired for good: its credentials revoked, no new subscription or registration takes it back', async () => {
    const { c, clock } = await open();
    clock.set(at(30));
    await c.engine.execute(expireSub1);
    await c.settle();
    expect(await state(c, 'node', 'meter-1')).toEqual(['expired', undefined]);
    for (const id of ['boot-1', 'cred-1']) expect(await state(c, 'credential', id)).toEqual(['revoked', 'cessationOfOperation']);
    expect(await state(c, 'association', 'sa-1')).toEqual(['revoked', 'cessationOfOperation']);

    for (const x of [enrol('meter-1', 'sub-2'), register('meter-1', 'boot-2')]) {
      expect((await rejection(c.engine.execute(x))).problem).toMatchObject({ code: 'illegal_transition', state: 'expired' });
    }

    // The way back: factory re-provisioning, a new node id with a new bootstrap credential, enrolled under sub-2.
    for (const x of [
      register('meter-1b', 'boot-1b'), cmd.issueCredential('boot-1b', 'meter-1b', at(300), { purpose: 'bootstrap' }), cmd.provisionCredential('boot-1b'),
      enrol('meter-1b', 'sub-2'),
    ]) await c.engine.execute(x);
    expect(await state(c, 'node', 'meter-1b')).toEqual(['enrolled', undefined]);
  });
});
