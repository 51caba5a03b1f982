import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { listEntities } from '../projections/entities/index.ts';
import { body, openApi, settled, type Api } from './http-conformance.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';

interface Query {
  readonly kind?: 'pseudonym';
  readonly state?: string;
}

interface Summary {
  readonly streamId: string;
  readonly kind: string;
  readonly id: string;
}

/** Every statement of every database of this process: what the service's read-model queries run as. */
const STATEMENT = Object.getPrototypeOf(new Database(':memory:').prepare('SELECT 1')) as Record<'all' | 'get' | 'iterate', (...args: unknown[]) => unknown>;

const isPseudonymRow = (row: unknown): boolean =>
  typeof row === 'object' && row !== null && typeof (row as { stream_id?: unknown }).stream_id === 'string' && (row as { stream_id: string }).stream_id.startsWith('pseudonym-');

/**
 * How many rows of a pseudonym's entity (`pseudonym-…`) the read models hand over while `work` runs: what a listing
 * reads of the pseudonym range, whichever query reads it.
 */
const pseudonymRowsReadBy = async <T>(work: () => Promise<T>): Promise<{ result: T; rows: number }> => {
  let rows = 0;
  const { all, get, iterate } = STATEMENT;
  STATEMENT.all = function (this: unknown, ...args: unknown[]) {
    const found = all.apply(this, args);
    if (Array.isArray(found)) rows += found.filter(isPseudonymRow).length;
    return found;
  };
  STATEMENT.get = function (this: unknown, ...args: unknown[]) {
    const found = get.apply(this, args);
    if (isPseudonymRow(found)) rows += 1;
    return found;
  };
  STATEMENT.iterate = function* (this: unknown, ...args: unknown[]) {
    for (const found of iterate.apply(this, args) as Iterable<unknown>) {
      if (isPseudonymRow(found)) rows += 1;
      yield found;
    }
  };
  try {
    return { result: await work(), rows };
  } finally {
    Object.assign(STATEMENT, { all, get, iterate });
  }
};

/**
 * Found in review 282: an auditor's GET /v1/entities (and `kind=pseudonym`) read every pseudonym row past its cursor
 * and asked, one by one, whether this auditor resolved it: about a second a page at 100,000 pseudonyms, growing with
 * the fleet. Now the pseudonym range of an auditor's page is read from the auditor's own resolutions: a page reads
 * O(page) pseudonym rows however many it does not show, and pages as before (same rows, order and cursors).
 */
describe("an auditor's entity listing reads only the pseudonyms it resolved", () => {
  const NODES = 60;
  const LIMIT = 2;
  let svc: TestService;
  let api: Api;
  let otherAuditor = '';
  let resolved: string[] = [];

  /** Every page the listing gives `token`, with the pseudonym rows each page read. */
  const pages = async (token: string, query: Query): Promise<{ items: Summary[]; rowsPerPage: number[] }> => {
    const items: Summary[] = [];
    const rowsPerPage: number[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 200; page++) {
      const { result: reply, rows } = await pseudonymRowsReadBy(() =>
        api.call<{ items: Summary[]; nextCursor?: string }>('GET', '/v1/entities', {}, {
          token,
          query: { ...query, limit: String(LIMIT), ...(cursor !== undefined ? { cursor } : {}) },
        }),
      );
      expect(reply.status, reply.text).toBe(200);
      items.push(...reply.body.items);
      rowsPerPage.push(rows);
      cursor = reply.body.nextCursor;
      if (cursor === undefined) return { items, rowsPerPage };
    }
    throw new Error('the listing did not end');
  };

  /** What the listing shows an auditor who resolved `own`: every row in stream-id order, of the pseudonyms those only. */
  const expected = (query: Query, own: readonly string[]): string[] =>
    listEntities(svc.service.context.credence.readModels, { ...query, limit: 1_000_000 })
      .filter((row) => row.kind !== 'pseudonym' || own.includes(row.id))
      .map((row) => row.streamId);

  beforeAll(async () => {
    svc = await startTestService();
    api = await openApi(svc);
    for (let n = 0; n < NODES; n++) {
      const node = `bounded-meter-${String(n).padStart(3, '0')}`;
      expect((await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: body.registerNode(node) })).status).toBe(201);
    }
    await settled(svc);
    const pseudonyms = listEntities(svc.service.context.credence.readModels, { kind: 'pseudonym', limit: 1_000_000 }).map((row) => row.id);
    expect(pseudonyms).toHaveLength(NODES);
    // The first, one in the middle and the last in stream-id order: pages start, cross and end in the pseudonym range.
    resolved = [pseudonyms[0]!, pseudonyms[Math.floor(NODES / 2)]!, pseudonyms.at(-1)!];
    for (const pseudonym of resolved) {
      const reply = await api.call('POST', '/v1/pseudonyms/resolutions', {}, { token: svc.tokens.auditor, body: { pseudonym, reason: 'case 2026-282' } });
      expect(reply.status, reply.text).toBe(200);
    }
    // Nothing else reads the read models while a page is counted (the entities read model handling the resolutions).
    await settled(svc);
    otherAuditor = (await svc.service.context.access.issue({ subject: 'bounded-other-auditor', role: 'auditor', ttlSeconds: 3600, issuedBy: 'test' })).token;
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('reads O(page) pseudonym rows a page, with the pseudonyms it does not show many times that', async () => {
    // A page reads the resolved rows it shows and one more (whether a next page exists), and, of every kind, one query
    // of the walk that may reach into the pseudonyms (a page and one); of the pseudonyms alone, one row says any follow.
    const bounds: [Query, number][] = [
      [{ kind: 'pseudonym' }, LIMIT + 2],
      [{}, 2 * (LIMIT + 1)],
      [{ state: 'active' }, 2 * (LIMIT + 1)],
    ];
    for (const [query, bound] of bounds) {
      const { items, rowsPerPage } = await pages(svc.tokens.auditor, query);
      const pseudonymsShown = expected(query, resolved).filter((id) => id.startsWith('pseudonym-'));
      expect(items.map((s) => s.streamId), JSON.stringify(query)).toEqual(expected(query, resolved));
      if (query.state === undefined) expect(pseudonymsShown).toEqual(resolved.map((id) => `pseudonym-${id}`));
      for (const rows of rowsPerPage) expect(rows, `${JSON.stringify(query)}: ${JSON.stringify(rowsPerPage)}`).toBeLessThanOrEqual(bound);
    }
  });

  it('reads next to none for an auditor that resolved none', async () => {
    const bounds: [Query, number][] = [
      [{ kind: 'pseudonym' }, 1],
      [{}, LIMIT + 1],
    ];
    for (const [query, bound] of bounds) {
      const { items, rowsPerPage } = await pages(otherAuditor, query);
      expect(items.map((s) => s.streamId), JSON.stringify(query)).toEqual(expected(query, []));
      for (const rows of rowsPerPage) expect(rows, `${JSON.stringify(query)}: ${JSON.stringify(rowsPerPage)}`).toBeLessThanOrEqual(bound);
    }
  });

  it('pages as before from the pseudonyms\' streams when the directory is not there in time, waiting for it once a page', async () => {
    const live = svc.service.context.live;
    const caughtUp = live.caughtUp.bind(live);
    let directoryWaits = 0;
    const spy = vi.spyOn(live, 'caughtUp').mockImplementation(async (...args: Parameters<typeof live.caughtUp>) => {
      if (args[2]?.includes('pseudonyms') === true) {
        directoryWaits += 1;
        return false;
      }
      return caughtUp(...args);
    });
    try {
      for (const query of [{ kind: 'pseudonym' as const }, {}]) {
        directoryWaits = 0;
        const { items, rowsPerPage } = await pages(svc.tokens.auditor, query);
        expect(items.map((s) => s.streamId), JSON.stringify(query)).toEqual(expected(query, resolved));
        expect(directoryWaits, JSON.stringify(query)).toBeLessThanOrEqual(rowsPerPage.length);
      }
    } finally {
      spy.mockRestore();
    }
  });

  it('shows a resolution recorded a moment ago on the next page read', async () => {
    const pseudonym = listEntities(svc.service.context.credence.readModels, { kind: 'pseudonym', limit: 1_000_000 })
      .map((row) => row.id)
      .find((id) => !resolved.includes(id))!;
    const reply = await api.call('POST', '/v1/pseudonyms/resolutions', {}, { token: otherAuditor, body: { pseudonym, reason: 'case 2026-282b' } });
    expect(reply.status, reply.text).toBe(200);
    const { items } = await pages(otherAuditor, { kind: 'pseudonym' });
    expect(items.map((s) => s.id)).toEqual([pseudonym]);
  });
});
