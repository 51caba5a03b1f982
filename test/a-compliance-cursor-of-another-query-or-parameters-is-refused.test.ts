import { hash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { COMPLIANCE_QUERIES } from '../projections/compliance/index.ts';
import { capture } from './support/cli.ts';
import { body, openApi, settled, type Api } from './http-conformance.fixtures.ts';
import { issueCredentialData } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';
import { tempDirs } from './support/temp-dirs.ts';

/*
 * Review 272 (medium): a compliance cursor (`nextAfter`, `after`) named the log it came from (review 199) but not the
 * query, nor the parameters, it was given for. The `nextAfter` of `revocations?limit=1` passed to
 * `actions?actor=test-operator` answered 200 with the actions after its position, every earlier one skipped without a
 * word; on `provisioned?subscription=sub-1` it answered no rows, `truncated: false` (an all-clear); a cursor of
 * `actions?actor=system:process-manager` was taken for `actor=test-operator`; `credence query --data` the same (exit 0).
 * A cursor now carries a digest of its query and the parameters that decide its rows and their order (not `limit`),
 * `.<q8>` after its tag, and one given to another query or other parameters is 400 `cursor_of_another_query` naming
 * `query.after` (the CLI: exit 2 naming --after). A cursor without the digest (an earlier version's) is taken as before.
 */

const DIGESTED_POSITION = /^\d+~[0-9a-f]{8}\.[0-9a-f]{8}$/;
const DIGESTED_KEYSET = /^\d+:[A-Za-z0-9._:~-]+@\d+~[0-9a-f]{8}\.[0-9a-f]{8}$/;

const folders = tempDirs('credence-compliance-cursor-of-another-query-');
const dir = folders.make();
let svc: TestService;
let api: Api;
const notAfter = new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000 + 10 * 86_400_000).toISOString();

type Answer = { rows: { position: string }[]; truncated: boolean; nextAfter?: string };
type Refusal = { errors?: { path: string; rule: string; message: string }[] };

const get = (query: string, params: Record<string, string>, accept?: string) =>
  api.call('GET', '/v1/compliance/{query}', { query }, { token: svc.tokens.auditor, query: params, ...(accept !== undefined ? { accept } : {}) });

/** The `nextAfter` of the first page of `query` with `params`, one row a page. */
const cursorOf = async (query: string, params: Record<string, string>): Promise<string> => {
  const first = await get(query, { ...params, limit: '1' });
  expect(first.status, JSON.stringify(first.body)).toBe(200);
  const answer = first.body as Answer;
  expect(answer.truncated, `${query} ${JSON.stringify(params)}`).toBe(true);
  return answer.nextAfter!;
};

/** Refused as a cursor of another query or other parameters, as JSON and as CSV. */
const expectRefused = async (query: string, params: Record<string, string>, after: string): Promise<void> => {
  for (const accept of ['application/json', 'text/csv']) {
    const refused = await get(query, { ...params, after }, accept);
    expect(refused.status, `${query} ${JSON.stringify(params)} ${after} ${accept}: ${JSON.stringify(refused.body)}`).toBe(400);
    const errors = (refused.body as Refusal).errors;
    expect(errors).toEqual([expect.objectContaining({ path: 'query.after', rule: 'cursor_of_another_query' })]);
    expect(errors![0]!.message).toMatch(/another query or other parameters/);
    expect(errors![0]!.message).toMatch(/without/);
  }
};

const cli = async (argv: string[]) => {
  const c = capture();
  const code = await main(argv, { ...c.io, env: {} });
  return { code, out: c.out.join('\n'), err: c.err.join('\n') };
};

beforeAll(async () => {
  svc = await startTestService({ dir });
  api = await openApi(svc);
  const issue = (id: string) => ({
    type: 'issueCredential',
    data: issueCredentialData(id, 'meter-1', { notBefore: new Date(Date.now() - 86_400_000).toISOString(), notAfter }),
  });
  const commands = [
    body.createSubscription(),
    body.registerNode('meter-1'),
    body.enrolNode('meter-1'),
    ...['cred-a', 'cred-b', 'cred-c', 'cred-d'].map(issue),
    ...['cred-a', 'cred-b', 'cred-c'].map((id) => body.provisionCredential(id)),
    ...[2, 3, 4, 5].flatMap((n) => [body.registerNode(`meter-${n}`), body.enrolNode(`meter-${n}`), body.issueCredential(`cred-${n}`, `meter-${n}`), body.revokeNode(`meter-${n}`)]),
  ];
  for (const command of commands) expect((await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: command })).status).toBe(201);
  await settled(svc);
}, 120_000);
afterAll(async () => {
  await svc?.close();
  folders.cleanup();
});

describe('a compliance cursor names the query and parameters it was given for', () => {
  it.each([
    ['revocations', {}, DIGESTED_POSITION],
    ['actions', { actor: 'test-operator' }, DIGESTED_POSITION],
    // Review 394: by its own key, `<listedPosition>:<credentialId>`, so a page ends at `limit` within one listing too.
    ['provisioned', { subscription: 'sub-1' }, DIGESTED_KEYSET],
    ['expiring', { days: '30' }, DIGESTED_KEYSET],
  ] as const)('%s: a cut page names a cursor with its digest, and paging with it reads every row once', async (query, params, form) => {
    const whole = (await get(query, params)).body as Answer;
    const rows: unknown[] = [];
    let after: string | undefined;
    for (let i = 0; i < 50; i++) {
      const page = await get(query, { ...params, limit: '1', ...(after !== undefined ? { after } : {}) });
      expect(page.status, JSON.stringify(page.body)).toBe(200);
      const answer = page.body as Answer;
      rows.push(...answer.rows);
      if (!answer.truncated) break;
      expect(answer.nextAfter).toMatch(form);
      expect(page.headers.get('credence-next-after')).toBe(answer.nextAfter);
      after = answer.nextAfter;
    }
    expect(rows).toEqual(whole.rows);
  });

  it("revocations' cursor given to actions or provisioned is 400 cursor_of_another_query naming query.after", async () => {
    const cursor = await cursorOf('revocations', {});
    await expectRefused('actions', { actor: 'test-operator' }, cursor);
    await expectRefused('provisioned', { subscription: 'sub-1' }, cursor);
  });

  it("one actor's cursor given for another actor, or a window's given without it, is refused", async () => {
    const all = (await get('actions', { actor: 'system:process-manager' })).body as Answer;
    expect(all.rows.length).toBeGreaterThan(1);
    await expectRefused('actions', { actor: 'test-operator' }, await cursorOf('actions', { actor: 'system:process-manager' }));
    const windowed = await cursorOf('actions', { actor: 'test-operator', from: '2020-01-01' });
    await expectRefused('actions', { actor: 'test-operator' }, windowed);
    await expectRefused('actions', { actor: 'test-operator', from: '2020-01-02' }, windowed);
    await expectRefused('actions', { actor: 'test-operator', from: '2020-01-01', to: '2999-01-01' }, windowed);
    await expectRefused('revocations', { reason: 'keyCompromise' }, await cursorOf('revocations', {}));
    await expectRefused('expiring', { days: '31' }, await cursorOf('expiring', { days: '30' }));
  });

  it('the same parameters, written another way or with another limit, page on', async () => {
    const windowed = await cursorOf('actions', { actor: 'test-operator', from: '2020-01-01' });
    const same = await get('actions', { actor: 'test-operator', from: '2020-01-01T00:00:00Z', limit: '5', after: windowed });
    expect(same.status, JSON.stringify(same.body)).toBe(200);
    // `order` left out is `log`.
    expect((await get('revocations', { order: 'log', after: await cursorOf('revocations', {}) })).status).toBe(200);
    expect((await get('expiring', { days: '30.0', after: await cursorOf('expiring', { days: '30' }) })).status).toBe(200);
  });

  it('revocations: `by` left out and `by=occurred` (the default) page on from each other; `by=recorded` does not', async () => {
    // Review 394: a cursor of a page without `by` was refused (cursor_of_another_query) on the next page with it.
    const without = await get('revocations', { by: 'occurred', limit: '1', after: await cursorOf('revocations', {}) });
    expect(without.status, JSON.stringify(without.body)).toBe(200);
    const withBy = await get('revocations', { limit: '1', after: await cursorOf('revocations', { by: 'occurred' }) });
    expect(withBy.status, JSON.stringify(withBy.body)).toBe(200);
    // Both cursors of the first page are the same one: what a cursor handed out before `by` was dropped still pages.
    expect(await cursorOf('revocations', { by: 'occurred' })).toBe(await cursorOf('revocations', {}));
    await expectRefused('revocations', {}, await cursorOf('revocations', { by: 'recorded' }));
    await expectRefused('revocations', { by: 'occurred' }, await cursorOf('revocations', { by: 'recorded' }));
  });

  it('a tampered digest is refused; a cursor without one (an earlier version\'s) is taken as before', async () => {
    const cursor = await cursorOf('actions', { actor: 'test-operator' });
    const last = cursor.at(-1) === '0' ? '1' : '0';
    await expectRefused('actions', { actor: 'test-operator' }, `${cursor.slice(0, -1)}${last}`);
    const withDigest = (await get('actions', { actor: 'test-operator', after: cursor })).body as Answer;
    const oldForm = cursor.slice(0, cursor.lastIndexOf('.'));
    expect(oldForm).toMatch(/^\d+~[0-9a-f]{8}$/);
    const old = await get('actions', { actor: 'test-operator', after: oldForm });
    expect(old.status, JSON.stringify(old.body)).toBe(200);
    expect((old.body as Answer).rows).toEqual(withDigest.rows);
    expect((await get('actions', { actor: 'test-operator', after: oldForm.split('~')[0]! })).status).toBe(200);
  });
});

describe('credence query refuses a cursor of another query or other parameters', () => {
  it('--data and --server: exit 2 naming --after (local), the server\'s 400 (remote); nothing printed on stdout', async () => {
    const cursor = await cursorOf('revocations', {});
    const local = await cli(['query', 'actions', '--actor', 'test-operator', '--after', cursor, '--data', dir]);
    expect(local.code, local.err).toBe(2);
    expect(local.err).toMatch(/--after: .*another query or other parameters/);
    expect(local.out).toBe('');
    const other = await cursorOf('actions', { actor: 'system:process-manager' });
    const actor = await cli(['query', 'actions', '--actor', 'test-operator', '--after', other, '--data', dir]);
    expect(actor.code, actor.err).toBe(2);
    expect(actor.err).toMatch(/--after: /);
    const remote = await cli(['query', 'actions', '--actor', 'test-operator', '--after', cursor, '--server', svc.url, '--token', svc.tokens.auditor]);
    expect(remote.code, remote.err).not.toBe(0);
    expect(remote.err).toMatch(/cursor_of_another_query|another query or other parameters/);
    expect(remote.out).toBe('');
  });

  it("a cursor printed by --data pages on the server, and the server's on --data: the same digest", async () => {
    const local = await cli(['query', 'actions', '--actor', 'test-operator', '--limit', '1', '--json', '--data', dir]);
    expect(local.code, local.err).toBe(0);
    const fromLocal = (JSON.parse(local.out) as Answer).nextAfter!;
    expect(fromLocal).toMatch(DIGESTED_POSITION);
    expect(fromLocal).toBe(await cursorOf('actions', { actor: 'test-operator' }));
    const next = await cli(['query', 'actions', '--actor', 'test-operator', '--after', fromLocal, '--json', '--data', dir]);
    expect(next.code, next.err).toBe(0);
  });
});

/*
 * Review 403 (low), follow-ups of review 394. (1) A cursor handed out before it for a query sent with `by=occurred`
 * carried a digest of `by` too, and was refused (400 cursor_of_another_query) on the same query after the upgrade.
 * (2) A `provisioned` cursor whose `@<position>~<tag>` names another event than the one at its key's listed position
 * (`1:cred-a@<L>~<tag>.<q8>`) was answered 200, rows already read among them.
 */

/** The digest as versions before review 394 computed it: every parsed parameter but limit and after, `by` included. */
const digestBefore394 = (query: 'revocations', params: Record<string, string>): string => {
  const parsed = COMPLIANCE_QUERIES[query].params.parse(params) as Record<string, unknown>;
  const chosen = Object.entries(parsed)
    .filter(([k, v]) => k !== 'limit' && k !== 'after' && v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return hash('sha256', JSON.stringify(['credence/compliance-cursor/v1', query, Object.fromEntries(chosen)]), 'hex').slice(0, 8);
};

describe('review 403: cursors across the upgrade of review 394, and a provisioned cursor naming two events', () => {
  it('revocations?by=occurred: a cursor with the digest handed out before (by included) still pages, over HTTP and by --data', async () => {
    const cursor = await cursorOf('revocations', { by: 'occurred' });
    const before = `${cursor.slice(0, cursor.lastIndexOf('.'))}.${digestBefore394('revocations', { by: 'occurred' })}`;
    expect(before).not.toBe(cursor);
    const now = (await get('revocations', { by: 'occurred', after: cursor })).body as Answer;
    const old = await get('revocations', { by: 'occurred', after: before });
    expect(old.status, JSON.stringify(old.body)).toBe(200);
    expect((old.body as Answer).rows).toEqual(now.rows);
    const local = await cli(['query', 'revocations', '--by', 'occurred', '--after', before, '--json', '--data', dir]);
    expect(local.code, local.err).toBe(0);
    expect((JSON.parse(local.out) as Answer).rows).toEqual(now.rows);
    // Only where `by=occurred` is written out, as it was when that digest was handed out; `by=recorded` is still another query.
    await expectRefused('revocations', { by: 'recorded' }, before);
  });

  it('provisioned: a cursor whose listed position is not its @ position is 400 cursor_form naming query.after; --data exits 2 naming --after', async () => {
    const cursor = await cursorOf('provisioned', { subscription: 'sub-1' });
    const [, listed, id, at] = /^(\d+):([^@]+)@(\d+)~/.exec(cursor)!;
    expect(listed).toBe(at);
    const mismatched = `1:${id}${cursor.slice(cursor.indexOf('@'))}`;
    for (const accept of ['application/json', 'text/csv']) {
      const refused = await get('provisioned', { subscription: 'sub-1', after: mismatched }, accept);
      expect(refused.status, `${accept}: ${JSON.stringify(refused.body)}`).toBe(400);
      const errors = (refused.body as Refusal).errors;
      expect(errors).toEqual([expect.objectContaining({ path: 'query.after', rule: 'cursor_form' })]);
      expect(errors![0]!.message).toMatch(/listed position .*@ position .*must be the same/);
    }
    // The cursor as handed out still pages.
    expect((await get('provisioned', { subscription: 'sub-1', after: cursor })).status).toBe(200);
    const local = await cli(['query', 'provisioned', '--subscription', 'sub-1', '--after', mismatched, '--data', dir]);
    expect(local.code, local.err).toBe(2);
    expect(local.err).toMatch(/--after: .*listed position .*@ position .*must be the same/);
    expect(local.out).toBe('');
    const ok = await cli(['query', 'provisioned', '--subscription', 'sub-1', '--after', cursor, '--json', '--data', dir]);
    expect(ok.code, ok.err).toBe(0);
  });
});
