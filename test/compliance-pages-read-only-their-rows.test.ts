import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { cmd, T0 } from './support/fleet.ts';

/*
 * Found in review: a page of an actor's actions read (and sorted) the actor's whole history through the index by
 * (actor, time), and a page of revocations with no window did the same through the index by time, so paging
 * through N rows cost N squared over the page size, with the event loop held. The plans now read a page's own rows
 * in log order, and sort nothing.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

/** The statements `run` prepares on the read models, in order. */
const statementsOf = (c: Credence, run: () => unknown): string[] => {
  const statements: string[] = [];
  const prepare = c.readModels.prepare.bind(c.readModels);
  c.readModels.prepare = ((sql: string) => {
    statements.push(sql);
    return prepare(sql);
  }) as typeof c.readModels.prepare;
  try {
    run();
  } finally {
    c.readModels.prepare = prepare;
  }
  return statements;
};

const planOf = (c: Credence, sql: string, ...args: unknown[]) =>
  (c.readModels.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as { detail: string }[]).map((r) => r.detail).join(' | ');

describe('a page of a compliance answer', () => {
  it("reads an actor's actions through (actor, position), with no sort", async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    await c.engine.execute(cmd.createSubscription());
    await c.settle();
    const plan = planOf(c, 'SELECT position FROM audit_events a WHERE a.actor_id = ? AND a.at >= ? AND a.at < ? AND a.position > ? ORDER BY a.position LIMIT ?', 'x', 0, 1, 0, 10);
    expect(plan).toContain('audit_events_actor_position');
    expect(plan).not.toContain('TEMP B-TREE');
    const indexes = (c.readModels.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_events'").all() as { name: string }[]).map((r) => r.name);
    expect(indexes).not.toContain('audit_events_actor');
  });

  it("reads an actor's actions within a window through (actor, time), not the actor's whole history", async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    await c.engine.execute(cmd.createSubscription());
    await c.settle();
    const { actionsOf } = await import('../projections/audit/index.ts');
    let windowed: unknown[] = [];
    const statements = statementsOf(c, () => {
      windowed = actionsOf(c.readModels, 'x', { from: new Date(0), to: new Date(1) }, { limit: 10 });
      actionsOf(c.readModels, 'x', {}, { limit: 10 });
      // The pages after the first go on in log order: a wide window is not sorted again for each (found in review).
      actionsOf(c.readModels, 'x', { from: new Date(0) }, { limit: 10, after: 5n });
    });
    expect(windowed).toEqual([]);
    expect(planOf(c, statements[0]!, 'x', 0, 1, -1n, 10n)).toContain('audit_events_actor_time');
    expect(planOf(c, statements[1]!, 'x', 0, 1, -1n, 10n)).toContain('audit_events_actor_position');
    const later = planOf(c, statements[2]!, 'x', 0, 1, 5n, 10n);
    expect(later).toContain('audit_events_actor_position');
    expect(later).not.toContain('TEMP B-TREE');
  });

  it('reads revocations with no window in log order from the page before, with no sort', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    await c.settle();
    const { revocations } = await import('../projections/compliance/index.ts');
    const statements = statementsOf(c, () => revocations(c.readModels, {}, { limit: 10, after: 5n }));
    // No reason asked for, none in the statement (review 461).
    const plan = planOf(c, statements.at(-1)!, -1, 1, 5n, 10n);
    expect(plan).not.toContain('TEMP B-TREE');
    expect(plan).not.toContain('compliance_revocations_at');
  });
});
