import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openReadModels } from '../adapters/driven/readmodels/index.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { clientCommandId } from '../domain/event-ids.ts';
import { auditTrail } from '../projections/audit/index.ts';
import { ProjectionRunner } from '../projections/runtime/index.ts';
import { at, cmd } from './support/fleet.ts';
import { copyEventStore } from './support/restored-folder.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Event ids are derived from command ids: when commands lost with a restore of the event store are sent again (a
 * client's retry, the same command id), their events come back at the positions the read models handled, under the
 * same ids, decided at a later instant. A read model built before the restore holds them as they were decided the
 * first time: its checkpoint's `occurredAt` tells it was built from another log, and it is rebuilt.
 */

const folder = temporaryFolders('credence-read-models-re-derived-');

/** Executes `commands` on the store of `dir`, decided at `when`. */
const execute = async (dir: string, when: string, commands: readonly unknown[]): Promise<void> => {
  const store = openSqliteStoreInDir(dir, { durability: 'normal' });
  const engine = createEngine({ store, clock: new FakeClock(when) });
  for (const c of commands) await engine.execute(c);
  await store.close();
};

/** Catches the audit trail up with the read models of `models`: what the runner found, and the rows against the store. */
const project = async (dir: string, models: string) => {
  const store = openSqliteStoreInDir(dir, { durability: 'normal' });
  const db = openReadModels({ dir: models });
  try {
    const runner = new ProjectionRunner({ db, store, projections: [auditTrail()] });
    const found = (await runner.checkLog()).map(({ name, reason }) => ({ name, reason }));
    await runner.catchUp();
    const audited = db.prepare('SELECT event_id, occurred_at FROM audit_events ORDER BY position').all() as { event_id: string; occurred_at: string }[];
    const stored: { event_id: string; occurred_at: string }[] = [];
    for await (const r of store.readAll()) stored.push({ event_id: r.id, occurred_at: String(r.metadata['occurredAt']) });
    return { found, audited, stored };
  } finally {
    db.close();
    await store.close();
  }
};

describe('read models over a restored event store', () => {
  it('are rebuilt when the store holds the event their checkpoint names again, decided at a later instant', async () => {
    const live = folder();
    const backup = folder();
    const models = folder();
    await execute(live, at(0), [cmd.createSubscription(), cmd.registerNode('meter-1')]);
    copyEventStore(live, backup);
    // A client's own command ids, so that its retry sends the same ones.
    const lost = [cmd.registerNode('meter-2'), cmd.enrolNode('meter-2')].map((c, i) => ({ ...c, metadata: { ...c.metadata, commandId: clientCommandId('lost', String(i)) } }));
    await execute(live, at(0), lost);
    expect((await project(live, models)).found).toEqual([]);

    // Restored, then the lost commands sent again, a day later, before the read models saw the store.
    copyEventStore(backup, live);
    await execute(live, at(1), lost);
    const after = await project(live, models);
    expect(after.found).toEqual([{ name: 'audit', reason: 'other-content' }]);
    expect(after.audited).toEqual(after.stored);
    expect(after.audited.at(-1)?.occurred_at).toBe(at(1));
  });
});
