import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import type { Clock } from '../domain/ports/index.ts';
import { walkDependents } from '../projections/cascade/dependency-graph.ts';
import { danglingAssociations, expiringWithin, provisionedUnder } from '../projections/compliance/queries.ts';
import { command } from '../domain/commands/index.ts';
import { forge } from './replay.fixtures.ts';
import { at, cmd, operator, rejection, T0 } from './support/fleet.ts';

/*
 * Found in review of the cascade, the expiry scheduler and the compliance read model: an association configured and
 * never established stayed configured on its expired credential for good (a permanent dangling-associations
 * finding); `provisioned` listed a credential provisioned after its node was revoked; a clock stepped back during a
 * tick revoked a rotation's predecessor before its overlap ended; a subscription a node had left still listed it as
 * a dependent; `expiring` listed a credential whose notAfter was now (expired by its machine).
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const state = async (c: Credence, kind: 'credential' | 'association', id: string) => String((await c.engine.entity(kind, id)).snapshot.value);

describe('the cascade and the compliance read model follow every ending', () => {
  it('a credential\'s expiry ends the association configured on it and never established: nothing dangles', async () => {
    const clock = new FakeClock(T0);
    const c = (credence = openCredence({ location: { memory: true }, clock }));
    for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential('cred-1', 'meter-1', at(10)), cmd.provisionCredential('cred-1'), cmd.configureAssociation('sa-1', 'cred-1', 'meter-1')]) {
      await c.engine.execute(x);
    }
    await c.settle();
    clock.set(at(11));
    await c.tick();
    expect(await state(c, 'credential', 'cred-1')).toBe('expired');
    expect(await state(c, 'association', 'sa-1')).toBe('revoked');
    const revoked = (await c.store.readStream('association-sa-1')).at(-1)!;
    expect([revoked.type, revoked.data['reason']]).toEqual(['AssociationRevoked', 'cessationOfOperation']);
    expect(danglingAssociations(c.readModels)).toEqual([]);
  });

  it('a credential provisioned after its node was revoked is not listed as provisioned under the subscription', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential('cred-1', 'meter-1')]) await c.engine.execute(x);
    await c.settle();
    await c.engine.execute(command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }));
    // Before the cascade revokes the credential: refused since review 165 (ownerIsLive), so one stored before that
    // rule (or past the engine) stands for it here.
    expect((await rejection(c.engine.execute(cmd.provisionCredential('cred-1')))).problem).toMatchObject({ code: 'illegal_transition', rule: 'ownerIsLive' });
    await forge(c.store, 'credential-cred-1', 'CredentialProvisioned', { credentialId: 'cred-1', method: 'pre-provisioning' }, T0);
    await c.settle();
    expect(provisionedUnder(c.readModels, 'sub-1')).toEqual([]);
  });

  it('a clock stepped back during a tick does not end a rotation\'s overlap early', async () => {
    let ms = Date.parse(T0);
    let stepBack = false;
    let reads = 0;
    // One read at the tick's start, then the clock is a minute behind it.
    const clock: Clock = { now: () => new Date(stepBack && reads++ > 0 ? ms - 60_000 : ms) };
    const c = (credence = openCredence({ location: { memory: true }, clock }));
    for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential('cred-1'), cmd.provisionCredential('cred-1'), cmd.issueCredential('cred-2', 'meter-1', at(90), { predecessorId: 'cred-1' }), cmd.provisionCredential('cred-2')]) {
      await c.engine.execute(x);
    }
    await c.engine.execute(cmd.startCredentialRotation(at(5)));
    await c.settle();
    ms = Date.parse(at(5)) + 1_000;
    stepBack = true;
    await c.scheduler.tick();
    expect(await state(c, 'credential', 'cred-1')).not.toBe('revoked');
    // Once the clock is past the overlap's end again, it ends.
    stepBack = false;
    ms = Date.parse(at(5)) + 2_000;
    await c.scheduler.tick();
    expect(await state(c, 'credential', 'cred-1')).toBe('revoked');
    const revoked = (await c.store.readStream('credential-cred-1')).at(-1)!;
    expect(Date.parse(String(revoked.metadata['occurredAt']))).toBeGreaterThanOrEqual(Date.parse(at(5)));
  });

  it('a subscription a node left lists it no more, and its end leaves the node alone', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    for (const x of [cmd.createSubscription('sub-a'), cmd.createSubscription('sub-b'), cmd.registerNode(), cmd.enrolNode('meter-1', 'sub-a'), cmd.issueCredential('cred-1'), cmd.enrolNode('meter-1', 'sub-b')]) {
      await c.engine.execute(x);
    }
    await c.settle();
    expect(walkDependents(c.readModels, 'subscription-sub-a', 10).dependents).toEqual([]);
    expect(walkDependents(c.readModels, 'subscription-sub-b', 10).dependents.map((d) => d.streamId)).toEqual(['node-meter-1', 'credential-cred-1']);
  });

  it('expiring lists a credential live until its notAfter, not one whose notAfter is now (expired by its machine)', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.issueCredential('cred-now', 'meter-1', at(10)), cmd.issueCredential('cred-edge', 'meter-1', at(12))]) {
      await c.engine.execute(x);
    }
    await c.settle();
    expect(expiringWithin(c.readModels, new Date(at(10)), 3).map((r) => r.credentialId)).toEqual(['cred-edge']);
  });
});
