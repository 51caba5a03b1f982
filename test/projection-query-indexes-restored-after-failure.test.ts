import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { FakeClock, HOUR } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { auditTrail } from '../projections/audit/index.ts';
import { ProjectionRunner } from '../projections/runtime/index.ts';
import { failingOnApply } from './support/failing-projection.ts';
import { cmd, T0 } from './support/fleet.ts';

const indexesOf = (db: Database.Database): string[] =>
  (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[]).map(
    (r) => r.name,
  );

const opened = async (): Promise<Credence> => {
  const clock = new FakeClock(T0);
  const c = openCredence({ location: { memory: true }, clock });
  await c.engine.execute(cmd.createSubscription());
  for (const n of [1, 2, 3]) {
    clock.advance(HOUR);
    await c.engine.execute(cmd.registerNode(`meter-${n}`));
    await c.engine.execute(cmd.enrolNode(`meter-${n}`));
    await c.engine.execute(cmd.issueCredential(`cred-${n}`, `meter-${n}`));
  }
  return c;
};

/** The next `CREATE INDEX` on the connection fails once, as a full disk would make it. */
const failNextIndexBuild = (db: Database.Database): void => {
  const exec = db.exec.bind(db);
  let armed = true;
  db.exec = ((sql: string) => {
    if (armed && sql.trimStart().startsWith('CREATE INDEX')) {
      armed = false;
      throw new Error('database or disk is full (index build, simulated)');
    }
    return exec(sql);
  }) as typeof db.exec;
};

describe('query indexes deferred by a catch-up from position 0', () => {
  it('a catch-up that fails reports its own error even when building the indexes again fails too', async () => {
    const c = await opened();
    const db = new Database(':memory:');
    db.defaultSafeIntegers(true);
    const failing = failingOnApply(auditTrail(), 7, 'projection failed on its 7th event');
    const runner = new ProjectionRunner({ db, store: c.store, projections: [failing], batchSize: 3 });
    const before = indexesOf(db);
    failNextIndexBuild(db);
    await expect(runner.catchUp()).rejects.toThrow('projection failed on its 7th event');
    expect(indexesOf(db)).not.toContain('audit_events_stream');
    // Past position 0 now, so nothing is deferred again; the indexes still owed are built when it ends.
    await runner.catchUp();
    expect(indexesOf(db)).toEqual(before);
    expect(runner.checkpoint('audit')).toBe(await c.store.headPosition());
    await c.close();
  });

  it('indexes that could not be built again when a catch-up ended are built by the next one, though nothing is left to apply', async () => {
    const c = await opened();
    const db = new Database(':memory:');
    db.defaultSafeIntegers(true);
    const runner = new ProjectionRunner({ db, store: c.store, projections: [auditTrail()], batchSize: 3 });
    const before = indexesOf(db);
    failNextIndexBuild(db);
    // Every event is applied and checkpointed; the failed index build is reported, not swallowed.
    await expect(runner.catchUp()).rejects.toThrow('disk is full');
    const head = runner.checkpoint('audit');
    expect(head).toBe(await c.store.headPosition());
    expect(indexesOf(db)).not.toContain('audit_events_stream');
    // The checkpoint is past position 0 now, so nothing is deferred again: the owed indexes are still built.
    expect(await runner.catchUp()).toBe(0);
    expect(indexesOf(db)).toEqual(before);
    expect(runner.checkpoint('audit')).toBe(head);
    await c.close();
  });
});
