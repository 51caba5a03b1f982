import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { csvColumnsOf } from '../adapters/http/routes/compliance-rows.ts';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { main } from '../bin/cli.ts';
import { command } from '../domain/commands/index.ts';
import { answerQuery, COMPLIANCE_QUERIES, COMPLIANCE_QUERY_NAMES, readModelsCountedFor, type ComplianceQueryName } from '../projections/compliance/index.ts';
import { ops, settled } from './http-sse.fixtures.ts';
import { capture } from './support/cli.ts';
import { parseCsv } from './support/csv.ts';
import { at, cmd, operator, T0 } from './support/fleet.ts';
import { useTestService } from './support/service.ts';
import { tamper } from './support/tampered-log.ts';

/*
 * Review 314: when the revocation cascade dead-letters a credential's revocation (it could not revoke it: here its
 * stream is broken, provisioned twice), the credential stays live under its ended node or App-ID, and nothing a
 * compliance team checks showed it: `dangling-associations` answered [] at `eventsBehind: 0`, the documented
 * all-clear. `dangling-credentials` lists each such credential, naming it, its owner, and how and where the owner ended.
 */

const QUERY = 'dangling-credentials' as ComplianceQueryName;
const APP = 'Rbilling';

let credence: Credence | undefined;
let dir: string | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

const run = (c: Credence, input: unknown) => c.engine.execute(input);
const positionOf = async (c: Credence, input: unknown) => (await run(c, input)).events[0]!.position;
/** Breaks `credentialId`'s stream as review 314 did: a second CredentialProvisioned, which its machine refuses. */
const breakStream = (c: Credence, credentialId: string) =>
  tamper(c, `credential-${credentialId}`, 'CredentialProvisioned', { credentialId, method: 'pre-provisioning' });

const ask = (c: Credence, params: Record<string, unknown> = {}) => {
  const parsed = COMPLIANCE_QUERIES[QUERY].params.parse(params);
  return answerQuery(QUERY, c.readModels, parsed, new Date(T0));
};
type Row = { position: bigint; credentialId: string; credentialStatus: string; owner: { kind: string; id: string; endedBy: string } };
const ofRows = (rows: readonly unknown[]) =>
  (rows as Row[]).map((r) => [r.credentialId, r.credentialStatus, r.owner.kind, r.owner.id, r.owner.endedBy, r.position]);

/** meter-1 enrolled under sub-1 with `credentials` issued to it and provisioned. */
const nodeWith = async (credentials: readonly string[], location: { memory: true } | { dir: string } = { memory: true }) => {
  const c = (credence = openCredence({ location, clock: new FakeClock(T0) }));
  for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode()]) await run(c, x);
  for (const id of credentials) {
    await run(c, cmd.issueCredential(id));
    await run(c, cmd.provisionCredential(id));
  }
  await c.settle();
  return c;
};

/** The App-ID with `credentials` of its own, issued and provisioned. */
const appWith = async (credentials: readonly string[]) => {
  const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
  await run(c, command('registerApplication', { appId: APP, name: 'billing', provider: 'City Utilities' }, { actor: operator }));
  for (const id of credentials) {
    await run(c, cmd.issueCredential(id, APP, at(300), { purpose: 'application', owner: { kind: 'app', id: APP } }));
    await run(c, cmd.provisionCredential(id));
  }
  await c.settle();
  return c;
};

describe('dangling-credentials lists a credential the cascade could not revoke, left live under its ended node or App-ID', () => {
  it('is in the catalog, beside dangling-associations, with a summary saying it must be empty', () => {
    expect(COMPLIANCE_QUERY_NAMES).toContain(QUERY);
    expect(COMPLIANCE_QUERIES[QUERY].summary).toContain('must be empty');
  });

  it("counts the cascade behind in its eventsBehind: right after a node's revocation its credentials are the cascade's work to come, no finding", () => {
    expect(readModelsCountedFor(QUERY)).toContain('cascade');
  });

  it('a node revoked for keyCompromise, one credential of it broken: that one is listed at the revocation, its healthy sibling is not', async () => {
    const c = await nodeWith(['cred-1', 'cred-2']);
    await breakStream(c, 'cred-1');
    const revoked = await positionOf(c, command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }));
    await c.settle();

    // The cascade revoked cred-2 and dead-lettered cred-1; dangling-associations sees nothing (there is no association).
    expect(answerQuery('dangling-associations', c.readModels, COMPLIANCE_QUERIES['dangling-associations'].params.parse({}), new Date(T0)).rows).toEqual([]);
    const answer = ask(c);
    expect(ofRows(answer.rows)).toEqual([['cred-1', 'provisioned', 'node', 'meter-1', 'NodeRevoked', revoked]]);
    expect(answer.rows[0]).toMatchObject({ issuedTo: { kind: 'node', id: 'meter-1' } });
    expect(answer.truncated).toBe(false);
  });

  it("a node whose enrolment expired with its subscription: listed at the expiry", async () => {
    const c = await nodeWith(['cred-1']);
    await breakStream(c, 'cred-1');
    await run(c, command('terminateSubscription', { subscriptionId: 'sub-1', reason: 'contract ended' }, { actor: operator }));
    // The cascade expires meter-1's enrolment, then cannot revoke cred-1.
    await c.settle();
    const rows = ofRows(ask(c).rows);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.slice(0, 5)).toEqual(['cred-1', 'provisioned', 'node', 'meter-1', 'NodeEnrolmentExpired']);
  });

  it('a revoked App-ID, its own credential broken: listed at the App-ID’s revocation', async () => {
    const c = await appWith(['app-cred-1', 'app-cred-2']);
    await breakStream(c, 'app-cred-1');
    const revoked = await positionOf(c, command('revokeApplication', { appId: APP, reason: 'keyCompromise' }, { actor: operator }));
    await c.settle();
    const answer = ask(c);
    expect(ofRows(answer.rows)).toEqual([['app-cred-1', 'provisioned', 'application', APP, 'ApplicationRevoked', revoked]]);
    expect(answer.rows[0]).toMatchObject({ issuedTo: { kind: 'app', id: APP } });
  });

  it('a healthy cascade leaves it empty: every credential of the revoked node and App-ID is revoked', async () => {
    const c = await nodeWith(['cred-1', 'cred-2']);
    await run(c, command('registerApplication', { appId: APP, name: 'billing', provider: 'City Utilities' }, { actor: operator }));
    await run(c, cmd.issueCredential('app-cred-1', APP, at(300), { purpose: 'application', owner: { kind: 'app', id: APP } }));
    await run(c, command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }));
    await run(c, command('revokeApplication', { appId: APP, reason: 'cessationOfOperation' }, { actor: operator }));
    await c.settle();
    expect(ask(c)).toEqual({ rows: [], truncated: false });
  });

  it('pages one row at a time with its cursor, <position>:<credentialId>, through credentials sharing their node’s revocation', async () => {
    const c = await nodeWith(['cred-a', 'cred-b', 'cred-c']);
    for (const id of ['cred-a', 'cred-b', 'cred-c']) await breakStream(c, id);
    const revoked = await positionOf(c, command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }));
    await c.settle();
    const pages: unknown[][] = [];
    const cursors: unknown[] = [];
    let after: string | undefined;
    for (let i = 0; i < 5; i++) {
      const answer = ask(c, { limit: '1', ...(after !== undefined ? { after } : {}) });
      pages.push((answer.rows as Row[]).map((r) => r.credentialId));
      cursors.push(answer.nextAfter);
      if (!answer.truncated) break;
      after = String(answer.nextAfter);
    }
    expect(pages).toEqual([['cred-a'], ['cred-b'], ['cred-c']]);
    expect(cursors).toEqual([`${revoked}:cred-a`, `${revoked}:cred-b`, undefined]);
    // Two at a time: the second page holds the last one alone.
    const first = ask(c, { limit: 2 });
    expect([(first.rows as Row[]).map((r) => r.credentialId), first.nextAfter]).toEqual([['cred-a', 'cred-b'], `${revoked}:cred-b`]);
    expect((ask(c, { limit: 2, after: first.nextAfter }).rows as Row[]).map((r) => r.credentialId)).toEqual(['cred-c']);
  });

  it.each([
    ['after', { after: 'cred-1' }, 'after'],
    ['after', { after: '12:' }, 'after'],
    ['after', { after: '99999999999999999999:cred-1' }, 'after'],
    ['limit', { limit: '0' }, 'limit'],
    ['limit', { limit: '10001' }, 'limit'],
    ['an unknown parameter', { days: '3' }, undefined],
  ])('refuses a bad %s naming the field', (_what, params, field) => {
    const parsed = COMPLIANCE_QUERIES[QUERY].params.safeParse(params);
    expect(parsed.success).toBe(false);
    const issue = parsed.error!.issues[0]!;
    if (field === undefined) expect(issue).toMatchObject({ code: 'unrecognized_keys', keys: ['days'] });
    else expect(issue.path).toEqual([field]);
  });

  it("says the cursor's form, <position>:<credentialId>, when refusing one", () => {
    const parsed = COMPLIANCE_QUERIES[QUERY].params.safeParse({ after: 'cred-1' });
    expect(parsed.error!.issues[0]!.message).toContain('<position>:<credentialId>@<position>~<tag>');
  });

  it('has CSV columns naming the credential, whom it was issued to, and its owner and how it ended', () => {
    expect(csvColumnsOf(QUERY)).toEqual([
      'position', 'credentialPosition', 'credentialId', 'credentialStatus', 'issuedTo.kind', 'issuedTo.id', 'owner.kind', 'owner.id', 'owner.endedBy',
    ]);
  });

  it('is answered by credence query dangling-credentials on the data folder, and refused a parameter it does not take', async () => {
    dir = mkdtempSync(join(tmpdir(), 'credence-dangling-credentials-'));
    const c = await nodeWith(['cred-1'], { dir });
    await breakStream(c, 'cred-1');
    const revoked = await positionOf(c, command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }));
    await c.settle();
    await c.close();
    credence = undefined;

    const text = capture();
    expect(await main(['query', 'dangling-credentials', '--data', dir], text.io)).toBe(0);
    expect(text.out[0]).toBe('dangling-credentials: 1 row');
    expect(text.out[1]).toMatch(new RegExp(`^ {2}@${revoked} {2}.*credentialId=cred-1 `));
    const json = capture();
    expect(await main(['query', 'dangling-credentials', '--json', '--data', dir], json.io)).toBe(0);
    expect(JSON.parse(json.out.join('\n'))).toMatchObject({
      eventsBehind: 0,
      rows: [{ position: String(revoked), credentialId: 'cred-1', owner: { kind: 'node', id: 'meter-1', endedBy: 'NodeRevoked' } }],
    });
    const refused = capture();
    expect(await main(['query', 'dangling-credentials', '--days', '3', '--data', dir], refused.io)).toBe(2);
    expect(refused.err.join('\n')).toContain('days');
  });
});

describe('dangling-credentials over HTTP', () => {
  const svc = useTestService();

  it('is listed by GET /v1/compliance, answered as JSON and CSV, and refuses a bad after naming query.after', async () => {
    const { credence: c } = svc.service.context;
    for (const step of [ops.createSubscription('sub-dc'), ops.registerNode('dc'), ops.enrolNode('dc', 'sub-dc'), ops.issueCredential('dc-c1', 'dc'), ops.provisionCredential('dc-c1')]) {
      await c.engine.execute(step);
    }
    await settled(svc);
    const get = (path: string, accept = 'application/json') => fetch(`${svc.url}${path}`, { headers: { authorization: `Bearer ${svc.tokens.auditor}`, accept } });

    const catalog = (await (await get('/v1/compliance')).json()) as { queries: { name: string; summary: string; params: string[] }[] };
    expect(catalog.queries.find((q) => q.name === 'dangling-credentials')).toMatchObject({ params: ['limit', 'after'], summary: expect.stringContaining('must be empty') });
    expect(await (await get('/v1/compliance/dangling-credentials')).json()).toMatchObject({ eventsBehind: 0, rows: [], truncated: false });

    await tamper(c, 'credential-dc-c1', 'CredentialProvisioned', { credentialId: 'dc-c1', method: 'pre-provisioning' });
    const revoked = String((await c.engine.execute(ops.revokeNode('dc'))).events[0]!.position);
    await settled(svc);

    const json = await get('/v1/compliance/dangling-credentials');
    expect(json.status).toBe(200);
    expect(await json.json()).toMatchObject({
      eventsBehind: 0,
      truncated: false,
      rows: [{ position: revoked, credentialId: 'dc-c1', credentialStatus: 'provisioned', issuedTo: { kind: 'node', id: 'dc' }, owner: { kind: 'node', id: 'dc', endedBy: 'NodeRevoked' } }],
    });
    const csv = await get('/v1/compliance/dangling-credentials', 'text/csv');
    expect(csv.status).toBe(200);
    const [header, ...rows] = parseCsv(await csv.text());
    expect(header).toEqual(csvColumnsOf(QUERY));
    expect(rows).toEqual([[revoked, expect.any(String), 'dc-c1', 'provisioned', 'node', 'dc', 'node', 'dc', 'NodeRevoked']]);

    const bad = await get('/v1/compliance/dangling-credentials?after=dc-c1');
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toContain('query.after');

    const document = (await (await fetch(`${svc.url}/openapi.json`)).json()) as { paths: Record<string, { get: { parameters: { name: string; schema: unknown }[] } }> };
    const query = document.paths['/v1/compliance/{query}']!.get.parameters.find((p) => p.name === 'query')!;
    expect(JSON.stringify(query.schema)).toContain('dangling-credentials');
  }, 30_000);
});
