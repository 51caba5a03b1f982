import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine, type Engine } from '../adapters/engine/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { entityState as state } from './support/credential-holders.ts';
import { at, cmd, footprint, operator, T0 } from './support/fleet.ts';
import { commandRecordedByAnEarlierVersion } from './support/recorded-by-an-earlier-version.ts';

/*
 * Review 249 (seed 004: keys live in the node's Secure Environment; seed 003 11.2.2). An AE on a node may sign in with
 * its App-ID's own credential (owner `app:Rbilling`, the one the App-ID is enrolled with). Revoking that node for
 * keyCompromise revoked its credentials, its AEs' own and its associations, and left the App-ID's credential, whose
 * key the compromised device held, live and enrolled: a new association with it was established on another node. A
 * node revoked for keyCompromise now revokes, as keyCompromise, every App-ID credential an association on it was
 * established with, which ends the App-ID's enrolment and its instances' associations elsewhere. Revoked for another
 * reason, the node leaves it alone: it is shared with the App-ID's instances on other nodes.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const revokeNode = (nodeId: string, reason: string) => command('revokeNode', { nodeId, reason }, { actor: operator });
/** AE `aeId` of Rbilling on `nodeId`, signing in with the App-ID's own credential app-cred-1. */
const onAppCredential = (associationId: string, nodeId: string, aeId: string) =>
  command('configureAssociation', { associationId, nodeId, credentialId: 'app-cred-1', registree: { kind: 'ae', id: aeId, appId: 'Rbilling' }, registrarCseId: '/in-cse' }, { actor: operator });
const applicationState = async (engine: Pick<Engine, 'entity'>) => String((await engine.entity('application', 'Rbilling')).snapshot.value);

/** meter-1 and meter-2 enrolled; Rbilling enrolled with app-cred-1; its AEs on both nodes established with it (sa-1, sa-2). */
const fleet = async (engine: Pick<Engine, 'execute'>): Promise<void> => {
  for (const x of [cmd.createSubscription(), cmd.registerNode('meter-1'), cmd.enrolNode('meter-1'), cmd.registerNode('meter-2'), cmd.enrolNode('meter-2')]) {
    await engine.execute(x);
  }
  await engine.execute(command('registerApplication', { appId: 'Rbilling', name: 'billing', provider: 'City Utilities' }, { actor: operator }));
  await engine.execute(cmd.issueCredential('app-cred-1', 'Rbilling', at(300), { purpose: 'application', owner: { kind: 'app', id: 'Rbilling' } }));
  await engine.execute(cmd.provisionCredential('app-cred-1'));
  await engine.execute(command('enrolApplication', { appId: 'Rbilling', credentialId: 'app-cred-1' }, { actor: operator }));
  await engine.execute(onAppCredential('sa-1', 'meter-1', 'Cbill1'));
  await engine.execute(cmd.establishAssociation('sa-1'));
  await engine.execute(onAppCredential('sa-2', 'meter-2', 'Cbill2'));
  await engine.execute(cmd.establishAssociation('sa-2'));
};

const opened = async (): Promise<Credence> => {
  const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
  await fleet(c.engine);
  await c.settle();
  return c;
};

describe('a node revoked for keyCompromise revokes the App-ID credential its AEs signed in with (review 249)', () => {
  it('the App-ID credential is revoked keyCompromise, the enrolment ends, and the AE association on another node with it', async () => {
    const c = await opened();
    await c.engine.execute(revokeNode('meter-1', 'keyCompromise'));
    await c.settle();
    expect(await state(c.engine, 'association', 'sa-1')).toEqual(['sa-1', 'revoked', 'keyCompromise']);
    expect(await state(c.engine, 'credential', 'app-cred-1')).toEqual(['app-cred-1', 'revoked', 'keyCompromise']);
    expect(await applicationState(c.engine)).toBe('initialized');
    expect(await state(c.engine, 'association', 'sa-2')).toEqual(['sa-2', 'revoked', 'keyCompromise']);
    // The compromised key authenticates no AE elsewhere any more.
    await expect(c.engine.execute(onAppCredential('sa-3', 'meter-2', 'Cbill3'))).rejects.toMatchObject({ problem: { code: 'illegal_transition' } });
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('for any other reason the App-ID credential stays: it is shared with the App-ID\'s instances on other nodes', async () => {
    const c = await opened();
    await c.engine.execute(revokeNode('meter-1', 'cessationOfOperation'));
    await c.settle();
    expect(await state(c.engine, 'association', 'sa-1')).toEqual(['sa-1', 'revoked', 'cessationOfOperation']);
    expect(await state(c.engine, 'credential', 'app-cred-1')).toEqual(['app-cred-1', 'associated', undefined]);
    expect(await applicationState(c.engine)).not.toBe('initialized');
    expect(await state(c.engine, 'association', 'sa-2')).toEqual(['sa-2', 'associated', undefined]);
  });

  it('a cascade that first meets the log revokes what such a revocation left live; a rebuild after writes nothing', async () => {
    const store = openSqliteStore({ memory: true });
    const clock = new FakeClock(T0);
    // Recorded with no cascade running: what a cascade before this version left.
    const engine = createEngine({ store, clock });
    await fleet(engine);
    await engine.execute(revokeNode('meter-1', 'keyCompromise'));
    const c = (credence = openCredence({ location: { memory: true }, clock, store }));
    await c.settle();
    expect(await state(c.engine, 'credential', 'app-cred-1')).toEqual(['app-cred-1', 'revoked', 'keyCompromise']);
    expect(await state(c.engine, 'association', 'sa-2')).toEqual(['sa-2', 'revoked', 'keyCompromise']);
    const before = await footprint(store);
    await c.runner.rebuild('cascade');
    await c.settle();
    expect(await footprint(store)).toEqual(before);
    expect((await replayAll(store)).findings).toEqual([]);
  });

  it('an association established with it on the node after the revocation (a race) revokes it on arrival', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    for (const x of [cmd.createSubscription(), cmd.registerNode('meter-1'), cmd.enrolNode('meter-1'), cmd.registerNode('meter-2'), cmd.enrolNode('meter-2')]) {
      await c.engine.execute(x);
    }
    await c.engine.execute(command('registerApplication', { appId: 'Rbilling', name: 'billing', provider: 'City Utilities' }, { actor: operator }));
    await c.engine.execute(cmd.issueCredential('app-cred-1', 'Rbilling', at(300), { purpose: 'application', owner: { kind: 'app', id: 'Rbilling' } }));
    await c.engine.execute(cmd.provisionCredential('app-cred-1'));
    await c.engine.execute(command('enrolApplication', { appId: 'Rbilling', credentialId: 'app-cred-1' }, { actor: operator }));
    await c.engine.execute(onAppCredential('sa-1', 'meter-1', 'Cbill1'));
    await c.engine.execute(onAppCredential('sa-2', 'meter-2', 'Cbill2'));
    await c.engine.execute(cmd.establishAssociation('sa-2'));
    await c.settle();
    await c.engine.execute(revokeNode('meter-1', 'keyCompromise'));
    // Decided before the revocation, stored after it (before the cascade got there): the AE signed in on the
    // compromised device with app-cred-1, while the revocation's own reaction saw sa-1 only configured.
    await commandRecordedByAnEarlierVersion(c.store, {
      type: 'establishAssociation',
      data: { associationId: 'sa-1', expiresAt: at(30) },
      metadata: { actor: operator, commandId: randomUUID() },
    });
    await c.settle();
    expect(await state(c.engine, 'credential', 'app-cred-1')).toEqual(['app-cred-1', 'revoked', 'keyCompromise']);
    expect(await state(c.engine, 'association', 'sa-2')).toEqual(['sa-2', 'revoked', 'keyCompromise']);
  });
});
