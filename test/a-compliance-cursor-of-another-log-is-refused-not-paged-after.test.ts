import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { complianceCursorOf, holdsCursorEvent, taggedNextAfter } from '../adapters/http/routes/compliance-rows.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { answerQuery, COMPLIANCE_QUERIES, type DanglingAssociationRow } from '../projections/compliance/index.ts';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { body, openApi, settled, type Api } from './http-conformance.fixtures.ts';
import { cmd, issueCredentialData, T0 } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';
import { tempDirs } from './support/temp-dirs.ts';

/*
 * Review 199 (medium): a compliance page's `nextAfter` was a bare position (or a key of its own order), so a cursor
 * saved before a restore, or taken from another instance, was answered 200 by a log it is no place of when its position
 * was at or below the head: service A's `actions?limit=2` named nextAfter=2, and service B (another log) answered
 * `after=2` with its rows 3-4, its rows 1-2 lost without a word. Revocation and action exports are audit evidence. A
 * cursor now names the event it ends at as an event stream's id does (`<position>~<tag>`; a cursor of a query in an
 * order of its own carries its last row's event id after `@`), and one whose event this log does not hold there is
 * refused, 409 resume_point_not_in_log naming query.after. A bare cursor is still taken as it comes (unchecked).
 */

const TAGGED_POSITION = /^\d+~[0-9a-f]{8}\.[0-9a-f]{8}$/;
const TAGGED_KEYSET = /^\d+:[A-Za-z0-9._:~-]+@\d+~[0-9a-f]{8}\.[0-9a-f]{8}$/;
/** provisioned's (review 394): `<listedPosition>:<credentialId>`, tagged with the event that listed the row, at that position. */
const TAGGED_LISTING = /^(\d+):[A-Za-z0-9._:~-]+@\1~[0-9a-f]{8}\.[0-9a-f]{8}$/;

const folders = tempDirs('credence-compliance-cursor-of-another-log-');
let a: TestService;
let b: TestService;
let apiA: Api;
let apiB: Api;
const notAfter = new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000 + 10 * 86_400_000).toISOString();

/** A small fleet on `svc`'s own log: its events are its own (random command ids), `shift` extra ones first. */
const fleet = async (svc: TestService, api: Api, prefix: string, shift: number): Promise<void> => {
  const issue = (id: string) => ({
    type: 'issueCredential',
    data: issueCredentialData(id, `${prefix}-1`, { notBefore: new Date(Date.now() - 86_400_000).toISOString(), notAfter }),
  });
  const commands = [
    ...Array.from({ length: shift }, (_, n) => body.registerNode(`${prefix}-extra-${n}`)),
    body.createSubscription(),
    body.registerNode(`${prefix}-1`),
    body.enrolNode(`${prefix}-1`),
    ...['cred-a', 'cred-b', 'cred-c', 'cred-d'].map((id) => issue(`${prefix}-${id}`)),
    ...['cred-a', 'cred-b', 'cred-c'].map((id) => body.provisionCredential(`${prefix}-${id}`)),
    ...[2, 3, 4, 5].flatMap((n) => [body.registerNode(`${prefix}-${n}`), body.revokeNode(`${prefix}-${n}`)]),
  ];
  for (const command of commands) expect((await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: command })).status).toBe(201);
  await settled(svc);
};

const get = (api: Api, svc: TestService, query: string, params: Record<string, string>, accept?: string) =>
  api.call('GET', '/v1/compliance/{query}', { query }, { token: svc.tokens.auditor, query: params, ...(accept !== undefined ? { accept } : {}) });

const QUERIES = [
  ['revocations', {}, TAGGED_POSITION],
  ['actions', { actor: 'test-operator' }, TAGGED_POSITION],
  ['provisioned', { subscription: 'sub-1' }, TAGGED_LISTING],
  ['expiring', { days: '30' }, TAGGED_KEYSET],
] as const;

/** Every row of `query` on `svc`, page by page with `limit`, and the cursors it was told. */
const paged = async (api: Api, svc: TestService, query: string, params: Record<string, string>, limit: number) => {
  const rows: unknown[] = [];
  const cursors: string[] = [];
  let after: string | undefined;
  for (let i = 0; i < 50; i++) {
    const page = await get(api, svc, query, { ...params, limit: String(limit), ...(after !== undefined ? { after } : {}) });
    expect(page.status, JSON.stringify(page.body)).toBe(200);
    const answer = page.body as { rows: unknown[]; truncated: boolean; nextAfter?: string };
    rows.push(...answer.rows);
    if (!answer.truncated) return { rows, cursors };
    expect(page.headers.get('credence-next-after')).toBe(answer.nextAfter);
    cursors.push(answer.nextAfter!);
    after = answer.nextAfter;
  }
  throw new Error('never ended');
};

const cli = async (argv: string[]) => {
  const c = capture();
  const code = await main(argv, { ...c.io, env: {} });
  return { code, out: c.out.join('\n'), err: c.err.join('\n') };
};

beforeAll(async () => {
  [a, b] = await Promise.all([startTestService({ dir: folders.make() }), startTestService({ dir: folders.make() })]);
  [apiA, apiB] = await Promise.all([openApi(a), openApi(b)]);
  await fleet(a, apiA, 'meter-a', 0);
  await fleet(b, apiB, 'meter-b', 3);
}, 120_000);
afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
  folders.cleanup();
});

describe('a compliance cursor names the event its page ended at', () => {
  it.each(QUERIES)('%s: a cut page names a tagged nextAfter, and paging with it reads every row once, as one answer does', async (query, params, form) => {
    const whole = await get(apiA, a, query, params);
    expect(whole.body).toMatchObject({ truncated: false });
    const { rows, cursors } = await paged(apiA, a, query, params, 1);
    expect(cursors.length).toBeGreaterThan(0);
    for (const cursor of cursors) expect(cursor).toMatch(form);
    expect(rows).toEqual((whole.body as { rows: unknown[] }).rows);
  });

  it.each(QUERIES)("%s: A's tagged cursor sent to B (another log) is 409 resume_point_not_in_log naming query.after, as JSON and CSV, and writes nothing", async (query, params) => {
    const first = await get(apiA, a, query, { ...params, limit: '1' });
    const cursor = (first.body as { nextAfter: string }).nextAfter;
    const head = await b.service.context.credence.store.headPosition();
    for (const accept of ['application/json', 'text/csv']) {
      const refused = await get(apiB, b, query, { ...params, after: cursor }, accept);
      expect(refused.status, `${query} ${accept} ${cursor}`).toBe(409);
      expect(refused.body).toMatchObject({ type: expect.stringMatching(/resume_point_not_in_log$/), path: 'query.after' });
      expect((refused.body as { detail: string }).detail).toContain('another log');
    }
    expect(await b.service.context.credence.store.headPosition()).toBe(head);
  });

  it('a bare cursor is still taken as it comes (older clients), unchecked', async () => {
    const first = await get(apiA, a, 'actions', { actor: 'test-operator', limit: '2' });
    const bare = (first.body as { nextAfter: string }).nextAfter.split('~')[0]!;
    const onB = await get(apiB, b, 'actions', { actor: 'test-operator', after: bare });
    expect(onB.status).toBe(200);
    const all = await get(apiB, b, 'actions', { actor: 'test-operator' });
    const positions = (all.body as { rows: { position: string }[] }).rows.map((r) => r.position);
    expect((onB.body as { rows: { position: string }[] }).rows.map((r) => r.position)).toEqual(positions.filter((p) => BigInt(p) > BigInt(bare)));
    const expiring = await get(apiA, a, 'expiring', { days: '30', limit: '1' });
    const bareKey = (expiring.body as { nextAfter: string }).nextAfter.split('@')[0]!;
    expect((await get(apiA, a, 'expiring', { days: '30', after: bareKey })).status).toBe(200);
  });
});

describe('dangling-associations: its cursor carries the event that ended the credential', () => {
  it('is `<position>:<associationId>@<position>~<tag>`, pages on its own log, and is no cursor of another', async () => {
    const logs = await Promise.all(['one', 'two'].map(async (name) => {
      const c = openCredence({ location: { memory: true }, clock: new FakeClock(T0) });
      await c.engine.execute(cmd.createSubscription());
      await c.engine.execute(cmd.registerNode(`meter-${name}`));
      await c.engine.execute(cmd.enrolNode(`meter-${name}`));
      await c.engine.execute(cmd.issueCredential('cred-1', `meter-${name}`));
      await c.engine.execute(cmd.provisionCredential('cred-1'));
      for (const sa of ['sa-a', 'sa-b', 'sa-c']) {
        await c.engine.execute(cmd.configureAssociation(sa, 'cred-1', `meter-${name}`));
        await c.engine.execute(cmd.establishAssociation(sa));
      }
      await c.settle();
      const revoked = (await c.engine.execute(cmd.revokeCredential('cred-1', 'keyCompromise'))).events[0]!.position;
      // The compliance read model alone, before the cascade has reacted: all three dangle.
      await c.runner.catchUp('compliance');
      return { c, revoked };
    }));
    const [{ c, revoked }, other] = logs as [(typeof logs)[number], (typeof logs)[number]];
    const page = (after?: string) =>
      answerQuery('dangling-associations', c.readModels, COMPLIANCE_QUERIES['dangling-associations'].params.parse({ limit: '2', ...(after !== undefined ? { after } : {}) }), new Date(T0));
    const first = page();
    const next = await taggedNextAfter(c.store, first);
    expect(next).toMatch(new RegExp(`^${revoked}:sa-b@${revoked}~[0-9a-f]{8}$`));
    const cursor = complianceCursorOf(next!);
    expect(cursor.after).toBe(`${revoked}:sa-b`);
    expect(await holdsCursorEvent(c.store, cursor.endedAt!)).toBe(true);
    expect((page(cursor.after).rows as readonly DanglingAssociationRow[]).map((r) => r.associationId)).toEqual(['sa-c']);
    expect(other.revoked).toBe(revoked);
    expect(await holdsCursorEvent(other.c.store, cursor.endedAt!)).toBe(false);
    await Promise.all(logs.map(({ c: log }) => log.close()));
  });
});

describe('credence query passes the tagged cursor through', () => {
  it('prints a tagged nextAfter (JSON, CSV, lines) and pages with it, --server and --data; refuses another log\'s', async () => {
    for (const target of [['--server', a.url, '--token', a.tokens.auditor], ['--data', a.dir]]) {
      const seen: string[] = [];
      let after: string | undefined;
      for (let i = 0; i < 20; i++) {
        const run = await cli(['query', 'actions', '--actor', 'test-operator', '--limit', '3', '--json', ...(after !== undefined ? ['--after', after] : []), ...target]);
        expect(run.code, run.err).toBe(0);
        const answer = JSON.parse(run.out) as { rows: { position: string }[]; truncated: boolean; nextAfter?: string };
        seen.push(...answer.rows.map((r) => r.position));
        if (!answer.truncated) break;
        expect(answer.nextAfter, target[0]).toMatch(TAGGED_POSITION);
        expect(run.err).toContain(`the next page is --after ${answer.nextAfter}`);
        after = answer.nextAfter;
      }
      const whole = await get(apiA, a, 'actions', { actor: 'test-operator' });
      expect(seen, target[0]).toEqual((whole.body as { rows: { position: string }[] }).rows.map((r) => r.position));
    }
    const csv = await cli(['query', 'actions', '--actor', 'test-operator', '--limit', '3', '--csv', '--server', a.url, '--token', a.tokens.auditor]);
    expect(csv.code, csv.err).toBe(0);
    expect(csv.err).toMatch(/the next page is --after \d+~[0-9a-f]{8}/);
    const fromA = /--after (\S+)/.exec(csv.err)![1]!;
    const lines = await cli(['query', 'actions', '--actor', 'test-operator', '--limit', '3', '--after', fromA, '--server', a.url, '--token', a.tokens.auditor]);
    expect(lines.code, lines.err).toBe(0);
    for (const target of [['--server', b.url, '--token', b.tokens.auditor], ['--data', b.dir]]) {
      const refused = await cli(['query', 'actions', '--actor', 'test-operator', '--after', fromA, ...target]);
      expect(refused.code, target[0]).not.toBe(0);
      expect(refused.err, target[0]).toContain('another log');
      expect(refused.out).toBe('');
    }
  });
});
