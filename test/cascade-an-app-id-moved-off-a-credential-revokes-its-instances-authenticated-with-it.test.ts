import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine, type Engine } from '../adapters/engine/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { dependentEnding, walkDependents } from '../projections/cascade/index.ts';
import { danglingAssociations } from '../projections/compliance/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { at, cmd, footprint, operator, T0 } from './support/fleet.ts';

/*
 * Review 343 (seed 003 11.2.2, SER-022): an App-ID moved onto another credential (`enrolApplication --replaces`, or
 * another credential than the one it is enrolled with) left its instances' associations established on the credential
 * it left live: still associated, still listed among its live instances. Since review 249 nothing new is configured or
 * established on that credential (appCredentialIsEnrolled), but a session already authenticated with it kept access it
 * no longer had. The cascade now revokes them as `superseded`, as a rotation's handover does through the credential's
 * revocation; the associations on the credential moved onto, on an AE's own credential, and of other App-IDs stay.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const APP = 'Rbilling';
const OTHER = 'Rwater';
const appCredential = (credentialId: string, appId = APP) =>
  cmd.issueCredential(credentialId, 'meter-1', at(300), { purpose: 'application', owner: { kind: 'app', id: appId } });
const run = (c: { engine: Engine }, type: string, data: Record<string, unknown>) => c.engine.execute(command(type as never, data as never, { actor: operator }));
const configure = (c: { engine: Engine }, associationId: string, credentialId: string, ae: string, appId = APP) =>
  run(c, 'configureAssociation', { associationId, nodeId: 'meter-1', credentialId, registree: { kind: 'ae', id: ae, appId }, registrarCseId: '/in-cse' });
const associate = async (c: { engine: Engine }, associationId: string, credentialId: string, ae: string, appId = APP) => {
  await configure(c, associationId, credentialId, ae, appId);
  await c.engine.execute(cmd.establishAssociation(associationId));
};
const association = async (c: { engine: Engine }, id: string) => {
  const { value, context } = (await c.engine.entity('association', id)).snapshot;
  return [value, context.revocationReason];
};
const liveInstances = async (c: { engine: Engine }, appId = APP) =>
  ((await c.engine.entity('application', appId)).snapshot.context.liveInstances as { associationId: string }[]).map((i) => i.associationId).sort();

/**
 * meter-1 enrolled; App-ID APP enrolled with app-cred-1 (app-cred-2 issued beside it), with sa-1 established on
 * app-cred-1, sa-ae established on its AE's own credential, sa-waiting configured on app-cred-1 and never established;
 * App-ID OTHER enrolled with water-cred, sa-water established on it.
 */
const open = async () => {
  const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
  await fleet(c);
  await c.settle();
  expect(await liveInstances(c)).toEqual(['sa-1', 'sa-ae']);
  return c;
};

const fleet = async (c: { engine: Engine }) => {
  for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode()]) await c.engine.execute(x);
  for (const appId of [APP, OTHER]) await run(c, 'registerApplication', { appId, name: appId, provider: 'City Utilities' });
  for (const [credentialId, appId] of [['app-cred-1', APP], ['app-cred-2', APP], ['water-cred', OTHER]] as const) {
    await c.engine.execute(appCredential(credentialId, appId));
    await c.engine.execute(cmd.provisionCredential(credentialId));
  }
  await run(c, 'enrolApplication', { appId: APP, credentialId: 'app-cred-1' });
  await run(c, 'enrolApplication', { appId: OTHER, credentialId: 'water-cred' });
  await associate(c, 'sa-1', 'app-cred-1', 'Cbill1');
  await c.engine.execute(cmd.issueCredential('Cbill2-cred', 'meter-1', at(200), { owner: { kind: 'ae', id: 'Cbill2', appId: APP } }));
  await c.engine.execute(cmd.provisionCredential('Cbill2-cred'));
  await associate(c, 'sa-ae', 'Cbill2-cred', 'Cbill2');
  await configure(c, 'sa-waiting', 'app-cred-1', 'Cbill3');
  await associate(c, 'sa-water', 'water-cred', 'Cwater', OTHER);
};

describe('an App-ID moved off a credential: its instances authenticated with that credential are revoked (review 343, seed 003 11.2.2)', () => {
  for (const [how, data] of [
    ['named as the one it replaces', { appId: APP, credentialId: 'app-cred-2', replaces: 'app-cred-1' }],
    ['not named (another credential than the one it is enrolled with)', { appId: APP, credentialId: 'app-cred-2' }],
  ] as const) {
    it(`revokes them as superseded, caused by the move, the credential left ${how}; the others stay, and a replay is clean`, async () => {
      const c = await open();
      const move = await run(c, 'enrolApplication', data);
      await associate(c, 'sa-2', 'app-cred-2', 'Cbill1');
      await c.settle();

      expect(await association(c, 'sa-1')).toEqual(['revoked', 'superseded']);
      const revoked = (await c.store.readStream('association-sa-1')).find((e) => e.type === 'AssociationRevoked')!;
      expect(revoked.metadata['causationId']).toBe(move.events[0]!.id);
      expect(revoked.metadata['actor']).toEqual({ id: 'system:process-manager', role: 'system' });
      expect(await liveInstances(c)).toEqual(['sa-2', 'sa-ae']);
      // Untouched: the one on the credential moved onto, the one on its AE's own credential, another App-ID's, and the
      // one configured and never established (its establishment is refused while the App-ID is enrolled with another).
      expect(await association(c, 'sa-2')).toEqual(['associated', undefined]);
      expect(await association(c, 'sa-ae')).toEqual(['associated', undefined]);
      expect(await association(c, 'sa-water')).toEqual(['associated', undefined]);
      expect(await liveInstances(c, OTHER)).toEqual(['sa-water']);
      expect(await association(c, 'sa-waiting')).toEqual(['initialized', undefined]);
      // The credential left stands: the App-ID's move ended nothing but the access authenticated with it.
      expect((await c.engine.entity('credential', 'app-cred-1')).snapshot.value).not.toMatch(/revoked|expired/);

      // The dependents graph of the credential left shows sa-1 ended as superseded, and compliance finds nothing dangling.
      const walk = walkDependents(c.readModels, 'credential-app-cred-1', 50).dependents;
      const sa1 = walk.find((d) => d.streamId === 'association-sa-1')!;
      expect(dependentEnding(c.readModels, sa1)).toMatchObject({ type: 'AssociationRevoked', reason: 'superseded', byCascade: true });
      expect(danglingAssociations(c.readModels)).toEqual([]);
      expect((await replayAll(c.store)).findings).toEqual([]);
    });
  }

  it('a move back and forth revokes only what the credential left at each move had authenticated, once', async () => {
    const c = await open();
    await run(c, 'enrolApplication', { appId: APP, credentialId: 'app-cred-2', replaces: 'app-cred-1' });
    await associate(c, 'sa-2', 'app-cred-2', 'Cbill1');
    await c.settle();
    await run(c, 'enrolApplication', { appId: APP, credentialId: 'app-cred-1', replaces: 'app-cred-2' });
    await c.settle();
    expect(await association(c, 'sa-1')).toEqual(['revoked', 'superseded']);
    expect(await association(c, 'sa-2')).toEqual(['revoked', 'superseded']);
    expect((await c.store.readStream('association-sa-1')).filter((e) => e.type === 'AssociationRevoked')).toHaveLength(1);
    expect(await liveInstances(c)).toEqual(['sa-ae']);
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('a cascade that first meets the log revokes what such a move left live; a rebuild after writes nothing', async () => {
    const store = openSqliteStore({ memory: true });
    const clock = new FakeClock(T0);
    // Recorded with no cascade running: what a cascade before this version left.
    const engine = createEngine({ store, clock });
    await fleet({ engine });
    await run({ engine }, 'enrolApplication', { appId: APP, credentialId: 'app-cred-2', replaces: 'app-cred-1' });
    const c = (credence = openCredence({ location: { memory: true }, clock, store }));
    await c.settle();
    expect(await association(c, 'sa-1')).toEqual(['revoked', 'superseded']);
    expect(await association(c, 'sa-ae')).toEqual(['associated', undefined]);
    const before = await footprint(store);
    await c.runner.rebuild('cascade');
    await c.settle();
    expect(await footprint(store)).toEqual(before);
    expect((await replayAll(store)).findings).toEqual([]);
  });
});
