import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { at, cmd, operator, T0 } from './support/fleet.ts';
import { configureAeInstance as instance, enrolledApplication, entityState as state } from './support/credential-holders.ts';

/*
 * RS-01 and device replacement. App-ID RA's instance under AE-ID Cx ran on meter-2 only; meter-2 is revoked, and the
 * cascade revokes what the instance held there. A credential of the instance stored after that (the log orders it
 * after every node the instance ran on ended) is the replacement device's: it follows no node until the instance is
 * established again, then that node, whose revocation revokes it. It is not revoked on arrival, which would make a
 * device impossible to replace (docs/service.md, the instance's credentials).
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const revokeNode = (nodeId: string) => command('revokeNode', { nodeId, reason: 'keyCompromise' }, { actor: operator });

describe("a replacement device's AE credential (stored after every node its instance ran on ended)", () => {
  it('stays live, follows the node the instance is established on next, and is revoked with it', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.registerNode('meter-2'), cmd.enrolNode('meter-2'), cmd.registerNode('meter-3'), cmd.enrolNode('meter-3')]) {
      await c.engine.execute(x);
    }
    await enrolledApplication(c.engine, 'RA');
    await c.engine.execute(cmd.issueCredential('ae-cred', 'meter-1', at(300), { owner: { kind: 'ae', id: 'Cx', appId: 'RA' } }));
    await c.engine.execute(cmd.provisionCredential('ae-cred'));
    await c.engine.execute(instance('sa-2', 'ae-cred', 'meter-2'));
    await c.engine.execute(cmd.establishAssociation('sa-2'));
    await c.engine.execute(revokeNode('meter-2'));
    await c.settle();
    expect(await state(c.engine, 'credential', 'ae-cred')).toEqual(['ae-cred', 'revoked', 'keyCompromise']);

    // The replacement: a new credential for the instance, provisioned, and the instance established on meter-3.
    await c.engine.execute(cmd.issueCredential('ae-cred-2', 'meter-3', at(300), { owner: { kind: 'ae', id: 'Cx', appId: 'RA' } }));
    await c.engine.execute(cmd.provisionCredential('ae-cred-2'));
    await c.settle();
    expect((await state(c.engine, 'credential', 'ae-cred-2'))[1]).not.toBe('revoked');
    await c.engine.execute(instance('sa-3', 'ae-cred-2', 'meter-3'));
    await c.engine.execute(cmd.establishAssociation('sa-3'));
    await c.settle();
    expect(await state(c.engine, 'association', 'sa-3')).toEqual(['sa-3', 'associated', undefined]);
    expect((await state(c.engine, 'credential', 'ae-cred-2'))[1]).not.toBe('revoked');

    await c.engine.execute(revokeNode('meter-3'));
    await c.settle();
    expect(await state(c.engine, 'credential', 'ae-cred-2')).toEqual(['ae-cred-2', 'revoked', 'keyCompromise']);
    expect(await state(c.engine, 'association', 'sa-3')).toEqual(['sa-3', 'revoked', 'keyCompromise']);
    expect((await replayAll(c.store)).findings).toEqual([]);
  });
});
