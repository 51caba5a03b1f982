import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { actionsOf, actionsWithToken } from '../projections/audit/index.ts';
import { revocations } from '../projections/compliance/index.ts';
import { T0 } from './support/fleet.ts';

/*
 * Found in review 461 (next to compliance-pages-read-only-their-rows): `revocations?reason=X` filtered the reason with
 * `(? IS NULL OR r.reason = ?)`, which no index serves, so a reason that matched nothing read every revocation (63 to
 * 199 ms); the plans now search the reason by an index. Pages of actions within a window are checked for their rows
 * (a bound on their positions taken per page cost every page the whole window, review 466, and was taken back).
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

/** The statements `run` runs on the read models, each with the values it was given. */
const statementsOf = (c: Credence, run: () => unknown): { sql: string; args: unknown[] }[] => {
  const statements: { sql: string; args: unknown[] }[] = [];
  const prepare = c.readModels.prepare.bind(c.readModels);
  c.readModels.prepare = ((sql: string) => {
    const statement = prepare(sql);
    const all = statement.all.bind(statement);
    statement.all = ((...args: unknown[]) => {
      statements.push({ sql, args });
      return all(...args);
    }) as typeof statement.all;
    return statement;
  }) as typeof c.readModels.prepare;
  try {
    run();
  } finally {
    c.readModels.prepare = prepare;
  }
  return statements;
};

const planOf = (c: Credence, s: { sql: string; args: unknown[] }) =>
  (c.readModels.prepare(`EXPLAIN QUERY PLAN ${s.sql}`).all(...s.args) as { detail: string }[]).map((r) => r.detail).join(' | ');

const opened = async (): Promise<Credence> => {
  const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
  await c.settle();
  return c;
};

const DAY_MS = 86_400_000;
const BASE = Date.parse(T0);

/**
 * Audit rows from position 1000 on: `actor` acts with `token` on each of `days` days in turn, `perDay` times, another
 * actor between each of them (not `actor`'s rows, so a plan that reads them is caught by the answer too).
 */
const auditRows = (c: Credence, actor: string, token: string, days: number, perDay: number): void => {
  const insert = c.readModels.prepare(
    `INSERT INTO audit_events (position, event_id, stream_id, revision, type, occurred_at, at, actor_id, actor_role, command_id, command_type,
       signature_status, token_id, token_issued_by, event_key, cause_key)
     VALUES (?, ?, 'node-x', ?, 'NodeUpdated', ?, ?, ?, 'operator', ?, 'updateNode', 'unsigned', ?, 'admin', ?, 0)`,
  );
  let position = 1000;
  c.readModels.transaction(() => {
    for (let day = 0; day < days; day += 1)
      for (let n = 0; n < perDay; n += 1)
        for (const [who, with_] of [
          [actor, token],
          ['operator:other', 'token-other'],
        ] as const) {
          position += 1;
          const at = BASE + day * DAY_MS + n * 1000;
          insert.run(position, `e-${position}`, position, new Date(at).toISOString(), at, who, `c-${position}`, with_, position);
        }
  })();
};

/** Every page of `read` from `after` on, `limit` rows each, joined. */
const paged = (read: (after: bigint | undefined) => { position: bigint }[]): bigint[] => {
  const all: bigint[] = [];
  let after: bigint | undefined;
  for (;;) {
    const page = read(after);
    all.push(...page.map((r) => r.position));
    if (page.length === 0) return all;
    after = page.at(-1)!.position;
  }
};

describe("the pages of an actor's or a token's actions within a window", () => {
  it('gives every row of the window once, in log order, page after page, and nothing past its end', async () => {
    const c = await opened();
    auditRows(c, 'operator:alice', 'token-a', 6, 5);
    const all = (c.readModels.prepare('SELECT position, at, actor_id, token_id FROM audit_events').all() as { position: bigint; at: number; actor_id: string; token_id: string }[]).map(
      (r) => ({ ...r, position: BigInt(r.position) }),
    );
    for (const window of [
      { from: new Date(BASE + 2 * DAY_MS), to: new Date(BASE + 3 * DAY_MS) },
      { from: new Date(BASE + 5 * DAY_MS) },
      { to: new Date(BASE + DAY_MS) },
      { from: new Date(BASE + 9 * DAY_MS) },
      { from: new Date(BASE + 2 * DAY_MS + 1500), to: new Date(BASE + 2 * DAY_MS + 3500) },
    ]) {
      const [from, to] = [window.from?.getTime() ?? -Infinity, 'to' in window && window.to !== undefined ? window.to.getTime() : Infinity];
      const expected = (field: 'actor_id' | 'token_id', value: string) =>
        all
          .filter((r) => r[field] === value && r.at >= from && r.at < to)
          .map((r) => r.position)
          .sort((a, b) => (a < b ? -1 : 1));
      expect(paged((after) => actionsOf(c.readModels, 'operator:alice', window, { limit: 2, ...(after !== undefined ? { after } : {}) }))).toEqual(
        expected('actor_id', 'operator:alice'),
      );
      expect(paged((after) => actionsOf(c.readModels, 'operator:alice', window, { limit: 4, after: after ?? 0n }))).toEqual(expected('actor_id', 'operator:alice'));
      expect(paged((after) => actionsWithToken(c.readModels, 'token-a', undefined, window, { limit: 3, after: after ?? 0n }))).toEqual(
        expected('token_id', 'token-a'),
      );
      expect(paged((after) => actionsWithToken(c.readModels, 'token-a', 'operator:alice', window, { limit: 3, after: after ?? 0n }))).toEqual(
        expected('token_id', 'token-a'),
      );
      expect(actionsWithToken(c.readModels, 'token-a', 'operator:other', window, { limit: 3, after: 0n })).toEqual([]);
      expect(actionsOf(c.readModels, 'operator:alice', window, { limit: 3, after: 99_999n })).toEqual([]);
    }
  });
});

describe('revocations of one reason', () => {
  const revocationRows = (c: Credence): void => {
    const insert = c.readModels.prepare(
      `INSERT INTO compliance_revocations (position, stream_id, kind, entity_id, reason, at, occurred_at, actor_id, recorded_at, recorded_ms)
       VALUES (?, ?, 'credential', ?, ?, ?, ?, 'operator:alice', NULL, ?)`,
    );
    c.readModels.transaction(() => {
      for (let n = 1; n <= 60; n += 1) {
        const at = BASE + (n % 7) * DAY_MS + n;
        insert.run(100_000 + n, `credential-${n}`, `c-${n}`, n % 3 === 0 ? 'keyCompromise' : 'superseded', at, new Date(at).toISOString(), at + DAY_MS);
      }
    })();
  };

  it('are searched by an index on the reason in every shape, never read through every revocation', async () => {
    const c = await opened();
    const window = { from: new Date(BASE + DAY_MS), to: new Date(BASE + 3 * DAY_MS) };
    const shapes = statementsOf(c, () => {
      revocations(c.readModels, { reason: 'cessationOfOperation' }, { limit: 10, after: 5n });
      revocations(c.readModels, { reason: 'cessationOfOperation', ...window }, { limit: 10 });
      revocations(c.readModels, { reason: 'cessationOfOperation', ...window, by: 'recorded' }, { limit: 10 });
      revocations(c.readModels, { reason: 'cessationOfOperation' }, { limit: 10 }, 'newest');
      revocations(c.readModels, { reason: 'cessationOfOperation', ...window }, { limit: 10 }, 'newest');
      revocations(c.readModels, { reason: 'cessationOfOperation', by: 'recorded' }, { limit: 10 }, 'newest');
    }).map((s) => planOf(c, s));
    expect(shapes).toHaveLength(6);
    const [log, windowed, recorded, newest, newestWindowed, newestRecorded] = shapes;
    expect(log).toMatch(/SEARCH r USING (COVERING )?INDEX compliance_revocations_reason_position \(reason=\? AND (rowid|position)>\?\)/);
    expect(log).not.toContain('TEMP B-TREE');
    expect(windowed).toMatch(/SEARCH r USING INDEX compliance_revocations_reason_at \(reason=\? AND at>\? AND at<\?\)/);
    expect(recorded).toMatch(/SEARCH r USING INDEX compliance_revocations_reason_recorded \(reason=\? AND recorded_ms>\? AND recorded_ms<\?\)/);
    expect(newest).toMatch(/SEARCH r USING INDEX compliance_revocations_reason_at \(reason=\? AND at>\? AND at<\?\)/);
    expect(newestWindowed).toMatch(/SEARCH r USING INDEX compliance_revocations_reason_at \(reason=\? AND at>\? AND at<\?\)/);
    expect(newestRecorded).toMatch(/SEARCH r USING INDEX compliance_revocations_reason_recorded \(reason=\? AND recorded_ms>\? AND recorded_ms<\?\)/);
    for (const plan of [newest, newestWindowed, newestRecorded]) expect(plan).not.toContain('TEMP B-TREE');
    for (const plan of shapes) expect(plan).not.toMatch(/SCAN r\b/);
  });

  it('give the same rows as before, of that reason only, and all of them without a reason', async () => {
    const c = await opened();
    revocationRows(c);
    const window = { from: new Date(BASE + DAY_MS), to: new Date(BASE + 4 * DAY_MS) };
    const of = (rows: { reason: string; position: bigint }[]) => rows.map((r) => `${r.position}:${r.reason}`);
    const stored = c.readModels.prepare('SELECT position, reason, at, recorded_ms FROM compliance_revocations ORDER BY position').all() as {
      position: bigint;
      reason: string;
      at: bigint;
      recorded_ms: bigint;
    }[];
    const expected = (reason: string | undefined, inWindow: (r: (typeof stored)[number]) => boolean) =>
      stored.filter((r) => (reason === undefined || r.reason === reason) && inWindow(r)).map((r) => `${BigInt(r.position)}:${r.reason}`);
    const byAt = (r: (typeof stored)[number]) => r.at >= window.from.getTime() && r.at < window.to.getTime();
    const byRecorded = (r: (typeof stored)[number]) => r.recorded_ms >= window.from.getTime() && r.recorded_ms < window.to.getTime();
    for (const reason of ['keyCompromise', 'superseded', 'cessationOfOperation', undefined] as const) {
      const filter = reason === undefined ? {} : { reason };
      expect(of(revocations(c.readModels, filter))).toEqual(expected(reason, () => true));
      expect(of(revocations(c.readModels, { ...filter, ...window }))).toEqual(expected(reason, byAt));
      expect(of(revocations(c.readModels, { ...filter, ...window, by: 'recorded' }))).toEqual(expected(reason, byRecorded));
      expect(of(revocations(c.readModels, filter, { limit: 4, after: 100_010n }))).toEqual(
        expected(reason, () => true)
          .filter((r) => BigInt(r.split(':')[0]!) > 100_010n)
          .slice(0, 4),
      );
      const newest = stored
        .filter((r) => (reason === undefined || r.reason === reason) && byAt(r))
        .sort((a, b) => (b.at !== a.at ? (b.at > a.at ? 1 : -1) : b.position > a.position ? 1 : -1))
        .slice(0, 5)
        .map((r) => `${BigInt(r.position)}:${r.reason}`);
      expect(of(revocations(c.readModels, { ...filter, ...window }, { limit: 5 }, 'newest'))).toEqual(newest);
    }
  });
});
