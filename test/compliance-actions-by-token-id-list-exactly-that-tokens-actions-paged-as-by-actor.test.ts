/**
 * Review 196 (gap): every command the service admits from a token records `metadata.token`, and the audit trail keeps
 * the token's id per row, but the compliance `actions` query answered only "everything one actor did": a compliance
 * team could not ask "everything done with API token X". `actions` now takes `tokenId`: the rows recorded with that
 * token, in log order, paged by `after` and `limit` and windowed by `from`/`to` exactly as by `actor`, optionally with
 * `actor` too, found through an index of the audit table (built in place on a version 5 file).
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { DecodedEvent } from '../domain/stored.ts';
import { insertAuditRows, setupAuditTables } from '../projections/audit/tables.ts';
import { answerQuery, COMPLIANCE_QUERIES } from '../projections/compliance/index.ts';

const TOKEN_A = `tok_${'A'.repeat(22)}`;
const TOKEN_B = `tok_${'B'.repeat(22)}`;
const TOKEN_C = `tok_${'C'.repeat(22)}`;
const UNKNOWN = `tok_${'Z'.repeat(22)}`;
const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const HOUR = 3_600_000;

const memoryDb = (): Database.Database => {
  const db = new Database(':memory:');
  db.defaultSafeIntegers(true);
  return db;
};

/** One row of the trail as the audit projection writes it: position `n`, `n` hours after T0. */
const event = (n: number, actor: string, token?: { id: string; issuedWith?: string }): DecodedEvent => {
  const occurredAt = new Date(T0 + n * HOUR).toISOString();
  const commandId = `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
  return {
    record: { id: `10000000-0000-4000-8000-${String(n).padStart(12, '0')}`, streamId: `node-meter-${n}`, revision: 0n, position: BigInt(n), type: 'NodeRegistered', data: {}, metadata: {} },
    event: { type: 'NodeRegistered', data: {} } as unknown as DecodedEvent['event'],
    metadata: {
      schemaVersion: 1,
      actor: { id: actor, role: 'operator' },
      commandId: commandId as DecodedEvent['metadata']['commandId'],
      commandType: 'RegisterNode',
      correlationId: commandId,
      causationId: commandId,
      occurredAt,
      ...(token !== undefined ? { token: { id: token.id, issuedBy: 'test-admin', ...(token.issuedWith !== undefined ? { issuedWith: token.issuedWith } : {}) } } : {}),
    },
    at: T0 + n * HOUR,
  };
};

/**
 * Given: one actor acting with two tokens, interleaved, and with none (the command line); another actor with a third,
 * issued with the first.
 */
const trail = (): Database.Database => {
  const db = memoryDb();
  setupAuditTables(db);
  const events: DecodedEvent[] = [];
  for (let n = 1; n <= 12; n++) {
    if (n % 4 === 0) events.push(event(n, 'test-operator'));
    else if (n % 4 === 3) events.push(event(n, 'test-auditor', { id: TOKEN_C, issuedWith: TOKEN_A }));
    else events.push(event(n, 'test-operator', { id: n % 2 === 1 ? TOKEN_A : TOKEN_B }));
  }
  insertAuditRows(db, events, () => ({ status: 'unsigned' }));
  return db;
};

const NOW = new Date(T0 + 100 * HOUR);

/** Runs `actions` as a front end does: its own schema parses the parameters as text. */
const actions = (db: Database.Database, params: Record<string, string>) => answerQuery('actions', db, COMPLIANCE_QUERIES.actions.params.parse(params), NOW);

const positions = (rows: readonly { readonly position: bigint }[]): number[] => rows.map((r) => Number(r.position));

/** Every page of an answer, following `nextAfter` from the first. */
const allPages = (db: Database.Database, params: Record<string, string>): number[][] => {
  const pages: number[][] = [];
  let after: string | undefined;
  for (;;) {
    const answer = actions(db, { ...params, ...(after !== undefined ? { after } : {}) });
    pages.push(positions(answer.rows));
    if (!answer.truncated) return pages;
    after = String(answer.nextAfter);
  }
};

describe('compliance actions by token id', () => {
  it('lists exactly the rows recorded with that token, in log order, each naming it', () => {
    const db = trail();
    const a = actions(db, { tokenId: TOKEN_A });
    expect(positions(a.rows)).toEqual([1, 5, 9]);
    expect(a.rows.every((r) => (r as { token?: { id: string } }).token?.id === TOKEN_A)).toBe(true);
    expect(positions(actions(db, { tokenId: TOKEN_B }).rows)).toEqual([2, 6, 10]);
    // The token an action came with, not the one its token was issued with.
    expect(positions(actions(db, { tokenId: TOKEN_C }).rows)).toEqual([3, 7, 11]);
    expect(a.truncated).toBe(false);
  });

  it('pages by `after` and `limit` as the actor query does', () => {
    const db = trail();
    expect(allPages(db, { tokenId: TOKEN_B, limit: '2' })).toEqual([[2, 6], [10]]);
    expect(allPages(db, { tokenId: TOKEN_B, limit: '1' })).toEqual([[2], [6], [10]]);
    const first = actions(db, { tokenId: TOKEN_B, limit: '2' });
    expect([first.truncated, first.nextAfter]).toEqual([true, 6n]);
    expect(allPages(db, { actor: 'test-operator', limit: '2' })).toEqual([[1, 2], [4, 5], [6, 8], [9, 10], [12]]);
  });

  it('keeps to a window [from, to), paged within it', () => {
    const db = trail();
    const window = { from: new Date(T0 + 2 * HOUR).toISOString(), to: new Date(T0 + 9 * HOUR).toISOString() };
    expect(positions(actions(db, { tokenId: TOKEN_A, ...window }).rows)).toEqual([5]);
    expect(allPages(db, { tokenId: TOKEN_B, ...window, limit: '1' })).toEqual([[2], [6]]);
    expect(positions(actions(db, { tokenId: TOKEN_A, from: new Date(T0 + 9 * HOUR).toISOString() }).rows)).toEqual([9]);
  });

  it('combines with actor: the rows of that token by that actor', () => {
    const db = trail();
    expect(positions(actions(db, { tokenId: TOKEN_A, actor: 'test-operator' }).rows)).toEqual([1, 5, 9]);
    expect(positions(actions(db, { tokenId: TOKEN_A, actor: 'test-auditor' }).rows)).toEqual([]);
  });

  it('answers an empty page, not a refusal, for a token no row names', () => {
    const answer = actions(trail(), { tokenId: UNKNOWN });
    expect(answer).toEqual({ rows: [], truncated: false });
  });

  it('still requires actor or tokenId, naming actor and saying tokenId would do', () => {
    const parsed = COMPLIANCE_QUERIES.actions.params.safeParse({});
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues).toEqual([expect.objectContaining({ path: ['actor'], message: 'is required unless tokenId is given: the actor id, e.g. operator:alice' })]);
  });

  it('reads a token through its own index, both without a window and within one', () => {
    const db = trail();
    const plan = (sql: string, ...args: unknown[]): string =>
      (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as { detail: string }[]).map((r) => r.detail).join(' | ');
    expect(plan('SELECT position FROM audit_events WHERE token_id = ? AND position > ? ORDER BY position LIMIT 10', TOKEN_A, 0)).toMatch(/audit_events_token_position/);
    const sqlOf = db.prepare.bind(db);
    const seen: string[] = [];
    db.prepare = ((sql: string) => {
      seen.push(sql);
      return sqlOf(sql);
    }) as typeof db.prepare;
    actions(db, { tokenId: TOKEN_A });
    actions(db, { tokenId: TOKEN_A, from: '2026-01-01' });
    db.prepare = sqlOf;
    const [unwindowed, windowed] = seen.filter((s) => s.includes('token_id = ?'));
    // The plan, whatever the values: every parameter bound NULL.
    const unbound = (sql: string): string => plan(sql, ...Array<null>(sql.split('?').length - 1).fill(null));
    expect(unbound(unwindowed!)).toMatch(/USING INDEX audit_events_token_position/);
    expect(unbound(windowed!)).toMatch(/USING INDEX audit_events_token_time/);
  });

  it('builds the index in place on a version 5 trail that lacks it, keeping its rows', () => {
    const db = trail();
    db.exec('DROP INDEX audit_events_token_position; DROP INDEX audit_events_token_time');
    setupAuditTables(db);
    const indexes = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_events'").all() as { name: string }[]).map((r) => r.name);
    expect(indexes).toEqual(expect.arrayContaining(['audit_events_token_position', 'audit_events_token_time']));
    expect(positions(actions(db, { tokenId: TOKEN_A }).rows)).toEqual([1, 5, 9]);
  });
});
