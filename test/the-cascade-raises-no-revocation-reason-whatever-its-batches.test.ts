import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine, type Engine } from '../adapters/engine/index.ts';
import { command } from '../domain/commands/index.ts';
import type { EventStore } from '../domain/ports/index.ts';
import { cascadeProcessManager } from '../projections/cascade/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { ProjectionRunner } from '../projections/runtime/index.ts';
import { configureAeInstance, enrolledApplication, racing } from './support/credential-holders.ts';
import { at, cmd, operator, T0 } from './support/fleet.ts';

/*
 * Review 234: the cascade raises nothing (docs/pki.md, "Raising a revocation's reason to keyCompromise"). App-ID RA's
 * instance runs on meter-1 with AE-ID credential ae-1; the operator revokes meter-1 as superseded, then RA as
 * keyCompromise. ae-1 ends once, for cessation of operation (its node was replaced, it was not), whether the cascade
 * caught up between the two commands or read both in one batch: there, its own revocation of ae-1 was not in the
 * batch, its read model did not list ae-1 as ended, and RA's revocation raised ae-1 to keyCompromise.
 */

const revokeNode = command('revokeNode', { nodeId: 'meter-1', reason: 'superseded' }, { actor: operator });
const revokeApplication = command('revokeApplication', { appId: 'RA', reason: 'keyCompromise' }, { actor: operator });

/** meter-1 enrolled, App-ID RA enrolled, its instance on meter-1 established with ae-1; the cascade caught up. */
const instanceOnMeter1 = async (engine: Engine, settle: () => Promise<void>): Promise<void> => {
  for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode()]) await engine.execute(x);
  await enrolledApplication(engine, 'RA');
  await engine.execute(cmd.issueCredential('ae-1', 'meter-1', at(300), { owner: { kind: 'ae', id: 'Cx', appId: 'RA' } }));
  await engine.execute(cmd.provisionCredential('ae-1'));
  await engine.execute(configureAeInstance('sa-1', 'ae-1', 'meter-1'));
  await engine.execute(cmd.establishAssociation('sa-1'));
  await settle();
};

/** ae-1's revocations as stored: their reasons and who sent them. */
const historyOfAe1 = async (store: EventStore): Promise<unknown[]> => {
  const history: unknown[] = [];
  for await (const r of store.readAll()) {
    if (r.streamId === 'credential-ae-1' && r.type === 'CredentialRevoked') {
      history.push({ reason: (r.data as { reason: string }).reason, actor: (r.metadata as { actor: { role: string } }).actor.role });
    }
  }
  return history;
};

/** The cascade over `store` on `engine`, its read model in `db` (kept across runners: it resumes at its checkpoint). */
const cascadeOn = (db: Database.Database, store: EventStore, engine: Engine) => {
  const runner = new ProjectionRunner({ db, store, projections: [cascadeProcessManager(engine)] });
  return async (): Promise<void> => {
    await runner.catchUp();
  };
};

const readModels = (): Database.Database => {
  const db = new Database(':memory:');
  db.defaultSafeIntegers(true);
  return db;
};

/** ae-1's revocations once both commands were sent, the cascade catching up between them or not. */
const ae1Revocations = async (catchUpBetween: boolean): Promise<{ history: unknown[]; findings: readonly unknown[] }> => {
  const store = openSqliteStore({ memory: true });
  const engine = createEngine({ store, clock: new FakeClock(T0) });
  const db = readModels();
  const settle = cascadeOn(db, store, engine);
  await instanceOnMeter1(engine, settle);
  await engine.execute(revokeNode);
  if (catchUpBetween) await settle();
  await engine.execute(revokeApplication);
  await settle();
  await settle();
  const history = await historyOfAe1(store);
  const { findings } = await replayAll(store);
  db.close();
  return { history, findings };
};

describe('the cascade raises no revocation reason, whatever its batches (review 234)', () => {
  it('an AE credential of a node replaced, then of an App-ID compromised, ends once for cessation of operation, caught up between or not', async () => {
    const once = [{ reason: 'cessationOfOperation', actor: 'system' }];
    const between = await ae1Revocations(true);
    const oneBatch = await ae1Revocations(false);
    expect(between).toEqual({ history: once, findings: [] });
    expect(oneBatch).toEqual({ history: once, findings: [] });
  });

  it('what is left: an operator revoking ae-1 between the cascade\'s look and its decision has it raised, a history replay finds legal', async () => {
    // docs/pki.md says so: nothing lets the cascade make its command depend on its look at the credential. The operator's
    // revocation lands just before the cascade's own append to ae-1, which then conflicts and is decided again.
    const store = openSqliteStore({ memory: true });
    const clock = new FakeClock(T0);
    const engine = createEngine({ store, clock });
    const db = readModels();
    await instanceOnMeter1(engine, cascadeOn(db, store, engine));
    await engine.execute(revokeApplication);
    const operatorFirst = () => engine.execute(cmd.revokeCredential('ae-1', 'affiliationChanged')).then(() => undefined);
    await cascadeOn(db, store, createEngine({ store: racing(store, 'credential-ae-1', operatorFirst), clock }))();
    expect(await historyOfAe1(store)).toEqual([
      { reason: 'affiliationChanged', actor: 'operator' },
      { reason: 'keyCompromise', actor: 'system' },
    ]);
    expect((await replayAll(store)).findings).toEqual([]);
    db.close();
  });
});
