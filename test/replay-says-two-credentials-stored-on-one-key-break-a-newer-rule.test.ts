import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { eventsDbRangeSourceInDir } from '../adapters/driven/store/sqlite/events-db-reader.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { replayInWorkers } from '../adapters/replay-workers/pool.ts';
import type { EventStore } from '../domain/ports/index.ts';
import { findingsByNewerRules, replayAll, replayEntity, type FleetReplay } from '../projections/replay/index.ts';
import { dataDirs, forge } from './replay.fixtures.ts';
import { embeddedAndStandInStores } from './support/embedded-and-standin-stores.ts';
import { at, cmd, issueCredentialData, placeholderKey, T0 } from './support/fleet.ts';

/*
 * SER-010. Machines v4 refuse a credential issued on a key another credential was issued on (keyNeverCertified). A
 * store written by v3 may hold two credentials of two nodes on one key (a cloned key, certified twice; one of them
 * since revoked as keyCompromise): replay reports the second as a finding by a rule newer than the event
 * (RULES_SINCE), in every form (one thread, the workers, the one entity), and the first stays legal.
 */
const cloned = placeholderKey('a key v3 certified twice');

/** meter-1 with cred-a on `cloned`, revoked as keyCompromise; then, as v3 could store it, meter-2's cred-b on it. */
const v3Store = async (store: EventStore): Promise<void> => {
  const engine = createEngine({ store, clock: new FakeClock(T0) });
  for (const c of [cmd.createSubscription(), cmd.registerNode('meter-1'), cmd.registerNode('meter-2'), cmd.enrolNode('meter-1'), cmd.enrolNode('meter-2')]) {
    await engine.execute(c);
  }
  await engine.execute(cmd.issueCredential('cred-a', 'meter-1', at(90), cloned));
  await engine.execute(cmd.revokeCredential('cred-a', 'keyCompromise'));
  // Behind the engine, as v3's engine appended it: no key bound at the append.
  const data = { ...issueCredentialData('cred-b', 'meter-2', { notBefore: T0, notAfter: at(90) }), ...cloned };
  await forge(store, 'credential-cred-b', 'CredentialIssued', data, at(1));
};

const expectNewerRuleFinding = (replay: FleetReplay): void => {
  expect(replay.findings).toHaveLength(1);
  expect(replay.findings[0]).toMatchObject({ streamId: 'credential-cred-b', type: 'CredentialIssued' });
  expect(replay.findings[0]!.reason).toContain('by rule keyNeverCertified');
  expect(replay.findings[0]!.reason).toContain('credential cred-b carries the key credential cred-a was issued on');
  expect(replay.findings[0]!.reason).toContain('rule since credence:machines:v4');
  expect(findingsByNewerRules(replay.findings)).toBe(1);
};

describe('two credentials stored on one key by an earlier version', () => {
  const dataDir = dataDirs('credence-replay-one-key-twice-');

  it('are one finding by keyNeverCertified, a rule since v4, in the one-thread replay, the workers and the entity replay', async () => {
    const dir = dataDir();
    const store = openSqliteStoreInDir(dir);
    try {
      await v3Store(store);
      const single = await replayAll(store);
      expectNewerRuleFinding(single);
      for (const workers of [2, 3]) {
        expect((await replayInWorkers(store, { workers, source: eventsDbRangeSourceInDir(dir) })).replay, `${workers} workers reading the file`).toEqual(single);
        expect((await replayInWorkers(store, { workers })).replay, `${workers} workers fed records`).toEqual(single);
      }
      const entity = await replayEntity(store, 'credential-cred-b');
      expect(entity.verdict.ok).toBe(false);
      expect(entity.steps[0]!.reason).toContain('by rule keyNeverCertified');
      expect((await replayEntity(store, 'credential-cred-a')).verdict.ok).toBe(true);
    } finally {
      await store.close();
    }
  }, 60_000);
});

describe.each(embeddedAndStandInStores())('two credentials stored on one key, on %s', (_, open) => {
  it('are one finding by keyNeverCertified in the one-thread and the entity replay', async () => {
    const store = await open();
    await v3Store(store);
    expectNewerRuleFinding(await replayAll(store));
    expect((await replayEntity(store, 'credential-cred-b')).steps[0]!.reason).toContain('by rule keyNeverCertified');
    await store.close();
  });
});
