import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine, type Engine } from '../adapters/engine/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import type { DecodedEvent } from '../domain/stored.ts';
import { BrokenHistoryError } from '../machines/index.ts';
import { dependentEnding, reactionsTo, walkDependents, type ReactionContext } from '../projections/cascade/index.ts';
import { reactionContextOf } from './support/reaction-context.ts';
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
const appCredential = (credentialId: string, appId = APP, extra: Record<string, unknown> = {}) =>
  cmd.issueCredential(credentialId, 'meter-1', at(300), { purpose: 'application', owner: { kind: 'app', id: appId }, ...extra });
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

/**
 * Review 347: what the App-ID may use after a move is what the association machine's appCredentialIsEnrolled lets a new
 * establishment use: the credential it is enrolled with and the successor that credential's rotation names. Every
 * instance established on another credential of its own is revoked, not only those on the credential it left, and none
 * on a credential the App-ID may use now (moved back since, or the successor of the one it moved onto).
 */
describe('an App-ID moved: its instances on every credential of its own it may no longer use are revoked (review 347)', () => {
  /** app-cred-1 rotating onto app-cred-1b (overlap to at(40)), sa-1b established on app-cred-1b during the overlap. */
  const rotating = async (c: { engine: Engine }) => {
    await c.engine.execute(appCredential('app-cred-1b', APP, { predecessorId: 'app-cred-1' }));
    await c.engine.execute(cmd.provisionCredential('app-cred-1b'));
    await c.engine.execute(cmd.startCredentialRotation(at(40), 'app-cred-1', 'app-cred-1b'));
    await associate(c, 'sa-1b', 'app-cred-1b', 'Cbill4');
  };
  const refusedOn = async (c: { engine: Engine }, associationId: string, credentialId: string) => {
    const error = await configure(c, associationId, credentialId, 'Cbill6').then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ problem: { rule: 'appCredentialIsEnrolled' } });
  };

  it("moved onto an unrelated credential during a rotation: the instance on the left credential's successor is revoked too", async () => {
    const c = await open();
    await rotating(c);
    await c.settle();
    expect(await liveInstances(c)).toEqual(['sa-1', 'sa-1b', 'sa-ae']);
    const move = await run(c, 'enrolApplication', { appId: APP, credentialId: 'app-cred-2', replaces: 'app-cred-1' });
    await c.settle();

    // A new establishment on app-cred-1b is refused now; the one established before is revoked with the rest.
    await refusedOn(c, 'sa-x', 'app-cred-1b');
    expect(await association(c, 'sa-1b')).toEqual(['revoked', 'superseded']);
    expect(await association(c, 'sa-1')).toEqual(['revoked', 'superseded']);
    const revoked = (await c.store.readStream('association-sa-1b')).find((e) => e.type === 'AssociationRevoked')!;
    expect(revoked.metadata['causationId']).toBe(move.events[0]!.id);
    expect(await liveInstances(c)).toEqual(['sa-ae']);
    expect(await association(c, 'sa-ae')).toEqual(['associated', undefined]);
    expect(await association(c, 'sa-water')).toEqual(['associated', undefined]);
    expect(await association(c, 'sa-waiting')).toEqual(['initialized', undefined]);
    expect(danglingAssociations(c.readModels)).toEqual([]);
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('the same found by a cascade that first meets the log; a rebuild after writes nothing', async () => {
    const store = openSqliteStore({ memory: true });
    const clock = new FakeClock(T0);
    const engine = createEngine({ store, clock });
    await fleet({ engine });
    await rotating({ engine });
    await run({ engine }, 'enrolApplication', { appId: APP, credentialId: 'app-cred-2', replaces: 'app-cred-1' });
    const c = (credence = openCredence({ location: { memory: true }, clock, store }));
    await c.settle();
    expect(await association(c, 'sa-1b')).toEqual(['revoked', 'superseded']);
    expect(await association(c, 'sa-1')).toEqual(['revoked', 'superseded']);
    expect(await liveInstances(c)).toEqual(['sa-ae']);
    const before = await footprint(store);
    await c.runner.rebuild('cascade');
    await c.settle();
    expect(await footprint(store)).toEqual(before);
    expect((await replayAll(store)).findings).toEqual([]);
  });

  it('moved onto its own rotation successor during the overlap: the instances still on the predecessor are revoked at once', async () => {
    const c = await open();
    await rotating(c);
    await run(c, 'enrolApplication', { appId: APP, credentialId: 'app-cred-1b', replaces: 'app-cred-1' });
    await c.settle();
    expect(await association(c, 'sa-1')).toEqual(['revoked', 'superseded']);
    expect(await association(c, 'sa-1b')).toEqual(['associated', undefined]);
    expect(await liveInstances(c)).toEqual(['sa-1b', 'sa-ae']);
  });

  it("moved back onto a credential whose rotation names the one it left: the instances on that successor stay (it may use them)", async () => {
    const c = await open();
    await rotating(c);
    await run(c, 'enrolApplication', { appId: APP, credentialId: 'app-cred-1b', replaces: 'app-cred-1' });
    await associate(c, 'sa-1b2', 'app-cred-1b', 'Cbill5');
    await c.settle();
    expect(await association(c, 'sa-1')).toEqual(['revoked', 'superseded']);
    // Back onto app-cred-1, still rotating onto app-cred-1b: a new establishment on app-cred-1b is accepted, so what
    // was established there stays.
    await run(c, 'enrolApplication', { appId: APP, credentialId: 'app-cred-1', replaces: 'app-cred-1b' });
    await associate(c, 'sa-1b3', 'app-cred-1b', 'Cbill6');
    await c.settle();
    expect(await association(c, 'sa-1b')).toEqual(['associated', undefined]);
    expect(await association(c, 'sa-1b2')).toEqual(['associated', undefined]);
    expect(await liveInstances(c)).toEqual(['sa-1b', 'sa-1b2', 'sa-1b3', 'sa-ae']);
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('a cascade that first meets a move A, B, A keeps what was established on A before the first (the App-ID uses A again)', async () => {
    const store = openSqliteStore({ memory: true });
    const clock = new FakeClock(T0);
    // Recorded with no cascade running: an upgrade's rebuild, or a cascade that is behind, meets all three at once.
    const engine = createEngine({ store, clock });
    await fleet({ engine });
    await run({ engine }, 'enrolApplication', { appId: APP, credentialId: 'app-cred-2', replaces: 'app-cred-1' });
    await associate({ engine }, 'sa-2', 'app-cred-2', 'Cbill5');
    await run({ engine }, 'enrolApplication', { appId: APP, credentialId: 'app-cred-1', replaces: 'app-cred-2' });
    const c = (credence = openCredence({ location: { memory: true }, clock, store }));
    await c.settle();
    expect(await association(c, 'sa-1')).toEqual(['associated', undefined]);
    expect(await association(c, 'sa-2')).toEqual(['revoked', 'superseded']);
    expect(await liveInstances(c)).toEqual(['sa-1', 'sa-ae']);
    const before = await footprint(store);
    await c.runner.rebuild('cascade');
    await c.settle();
    expect(await footprint(store)).toEqual(before);
    expect((await replayAll(store)).findings).toEqual([]);
  });
});

describe('what the App-ID may use is read from the engine; a history that cannot be read fails closed (reviews 347, 353)', () => {
  const moved = { record: { streamId: 'application-A' }, event: { type: 'ApplicationEnrolled', data: { appId: 'A', credentialId: 'c2', replaces: 'c1' } } } as unknown as DecodedEvent;
  const context = (overrides: Partial<ReactionContext>): ReactionContext =>
    reactionContextOf({
      dependents: (_parent, relation) =>
        relation === 'association-of-application' ? ['association-on-c1', 'association-on-c9'] : relation === 'credential-of-application-enrolled' ? ['credential-c1'] : [],
      association: async (id) => ({ credentialId: id.slice(3), onApplicationCredential: true, established: true }),
      credentialOfApplicationNow: async () => 'c2',
      ...overrides,
    });
  const revoked = (outcomes: Awaited<ReturnType<typeof reactionsTo>>) =>
    outcomes.flatMap((o) => ('type' in o && o.type === 'revokeAssociation' ? [o.data['associationId']] : []));

  it('revokes the instances on every credential the App-ID may not use, and spares one it is enrolled with again now', async () => {
    expect(revoked(await reactionsTo(moved, context({})))).toEqual(['on-c1', 'on-c9']);
    expect(revoked(await reactionsTo(moved, context({ credentialOfApplicationNow: async () => 'c9' })))).toEqual(['on-c1']);
    expect(revoked(await reactionsTo(moved, context({ rotationSuccessorNow: async (id) => (id === 'c2' ? 'c1' : undefined) })))).toEqual(['on-c9']);
  });

  // Review 353: before, a broken stream met by a read now left the move one dead letter revoking nothing, not even the
  // instances on the credential left (revoked without any read before review 347): access failed open until an operator
  // handled it. Now the dead letter still names the stream, and every instance only a read now could have spared is
  // revoked: all but on the credential moved onto (none of those is a candidate).
  const broken = (streamId: string) => async (): Promise<never> => {
    throw new BrokenHistoryError(streamId, 7n, 'provisioned twice');
  };
  const deadLetters = (outcomes: Awaited<ReturnType<typeof reactionsTo>>) => outcomes.flatMap((o) => ('unresolved' in o ? [o.unresolved.streamId] : []));

  it("a broken history met reading the moved-onto credential's successor is a dead letter naming it, and every candidate is still revoked", async () => {
    const outcomes = await reactionsTo(moved, context({ rotationSuccessorNow: broken('credential-c2') }));
    expect(deadLetters(outcomes)).toEqual(['credential-c2']);
    expect(revoked(outcomes)).toEqual(['on-c1', 'on-c9']);
    expect(outcomes.filter((o) => 'type' in o).map((o) => ('type' in o ? o.data['reason'] : undefined))).toEqual(['superseded', 'superseded']);
  });

  it("a broken history met reading the App-ID's credential now is a dead letter naming it, and every candidate is still revoked", async () => {
    const outcomes = await reactionsTo(moved, context({ credentialOfApplicationNow: broken('application-A') }));
    expect(deadLetters(outcomes)).toEqual(['application-A']);
    expect(revoked(outcomes)).toEqual(['on-c1', 'on-c9']);
  });

  it('a broken history met reading the successor of the credential enrolled with now spares not even that one', async () => {
    const outcomes = await reactionsTo(
      moved,
      context({ credentialOfApplicationNow: async () => 'c9', rotationSuccessorNow: async (id) => (id === 'c9' ? broken('credential-c9')() : undefined) }),
    );
    expect(deadLetters(outcomes)).toEqual(['credential-c9']);
    expect(revoked(outcomes)).toEqual(['on-c1', 'on-c9']);
  });

  it('the reviewer\'s case: one established instance on the credential left is revoked, healthy or not', async () => {
    const r1 = { record: { streamId: 'application-R1' }, event: { type: 'ApplicationEnrolled', data: { appId: 'R1', credentialId: 'B', replaces: 'A' } } } as unknown as DecodedEvent;
    const one = (overrides: Partial<ReactionContext>) =>
      context({
        dependents: (_parent, relation) =>
          relation === 'association-of-application' ? ['association-on-A'] : relation === 'credential-of-application-enrolled' ? ['credential-A'] : [],
        credentialOfApplicationNow: async () => 'B',
        ...overrides,
      });
    const healthy = await reactionsTo(r1, one({}));
    expect(healthy).toEqual([{ type: 'revokeAssociation', data: { associationId: 'on-A', reason: 'superseded' } }]);
    for (const [overrides, stream] of [
      [{ rotationSuccessorNow: broken('credential-B') }, 'credential-B'],
      [{ credentialOfApplicationNow: broken('application-R1') }, 'application-R1'],
    ] as const) {
      const outcomes = await reactionsTo(r1, one(overrides));
      expect(deadLetters(outcomes)).toEqual([stream]);
      expect(outcomes.filter((o) => 'type' in o)).toEqual(healthy);
    }
  });
});
