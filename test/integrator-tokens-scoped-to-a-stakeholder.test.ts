import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { firstValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicLifecycle, type PublicScope } from '../projections/pseudonyms/index.ts';
import { cmd } from './support/fleet.ts';
import { runCli } from './support/cli.ts';
import { startTestService, type TestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';
import { openStream } from './http-sse.fixtures.ts';

/*
 * SER-025, SER-018: an integrator token may be issued with a scope (M2M subscriptions, App-IDs), recorded in
 * access.db, shown in listings and verified on every request; its event stream publishes only those stakeholders'
 * events. A scope on another role, an empty one, one too long or with a malformed id is refused and writes nothing.
 */

const json = { 'content-type': 'application/json' };
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const folder = temporaryFolders('credence-token-scope-');
/** The service runs on the wall clock: far enough ahead of it. */
const LATER = '2030-01-01T00:00:00.000Z';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
  for (const step of [
    cmd.createSubscription('sub-01', LATER), cmd.createSubscription('sub-09', LATER),
    cmd.registerNode('meter-01'), cmd.enrolNode('meter-01', 'sub-01'), cmd.issueCredential('cred-01', 'meter-01', LATER),
    cmd.registerNode('meter-09'), cmd.enrolNode('meter-09', 'sub-09'), cmd.issueCredential('cred-09', 'meter-09', LATER),
  ]) {
    await svc.service.context.credence.engine.execute(step);
  }
  await svc.service.context.credence.settle();
}, 30_000);
afterAll(async () => {
  await svc?.close();
});

const issue = (body: Record<string, unknown>) =>
  fetch(`${svc.url}/v1/tokens`, { method: 'POST', headers: { ...json, ...bearer(svc.tokens.admin) }, body: JSON.stringify({ ttl: '1h', ...body }) });
const listed = async (): Promise<Array<Record<string, unknown>>> =>
  ((await (await fetch(`${svc.url}/v1/tokens?limit=1000`, { headers: bearer(svc.tokens.admin) })).json()) as { tokens: Array<Record<string, unknown>> }).tokens;
const rows = (dir: string): number => {
  const db = new Database(join(dir, 'access.db'), { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM tokens').get() as { n: number }).n;
  } finally {
    db.close();
  }
};

describe('POST /v1/tokens with a scope', () => {
  it('issues an integrator token whose stream publishes only its subscription, listed with its scope', async () => {
    const response = await issue({ subject: 'city-01', role: 'integrator', scope: { subscriptions: ['sub-01'] } });
    expect(response.status).toBe(201);
    const issued = (await response.json()) as { token: string; tokenId: string; scope: unknown };
    expect(issued.scope).toEqual({ subscriptions: ['sub-01'] });
    expect((await listed()).find((t) => t.tokenId === issued.tokenId)).toMatchObject({ role: 'integrator', scope: { subscriptions: ['sub-01'] } });

    const credence = svc.service.context.credence;
    const expected = await firstValueFrom(publicLifecycle(credence.store, credence.pseudonyms!.deriver, { live: false, scope: { subscriptions: ['sub-01'] } as PublicScope }).pipe(toArray()));
    const whole = await firstValueFrom(publicLifecycle(credence.store, credence.pseudonyms!.deriver, { live: false }).pipe(toArray()));
    expect(expected.length).toBeGreaterThan(2);
    expect(expected.length).toBeLessThan(whole.length - 2);
    const stream = await openStream(svc.url, issued.token, '/v1/events?from=start');
    try {
      expect(stream.status).toBe(200);
      // The last of the whole history is meter-09's: once a later event of sub-01 arrives, every earlier one was passed.
      await credence.engine.execute(cmd.issueCredential('cred-01b', 'meter-01', LATER));
      await credence.settle();
      await stream.until(() => stream.events().some((e) => e.event === 'CredentialIssued' && BigInt(e.id.split('~')[0]!) > whole.at(-1)!.position), 'the credential issued last');
      const ids = stream.events().map((e) => BigInt(e.id.split('~')[0]!));
      expect(ids.slice(0, expected.length)).toEqual(expected.map((e) => e.position));
      expect(ids).toHaveLength(expected.length + 1);
    } finally {
      stream.close();
    }
  });

  it.each([
    ['a scope on another role', { role: 'operator', scope: { subscriptions: ['sub-01'] } }, { path: 'body.scope', rule: 'scope_integrator_only' }],
    ['an empty scope', { role: 'integrator', scope: {} }, { path: 'body.scope', rule: 'empty_scope' }],
    ['an empty list', { role: 'integrator', scope: { subscriptions: [] } }, { path: 'body.scope.subscriptions', rule: 'too_small' }],
    ['33 App-IDs', { role: 'integrator', scope: { appIds: Array.from({ length: 33 }, (_, i) => `Rapp${i}`) } }, { path: 'body.scope.appIds', rule: 'too_big' }],
    ['a malformed subscription id', { role: 'integrator', scope: { subscriptions: ['sub 01'] } }, { path: 'body.scope.subscriptions.0' }],
    ['a malformed App-ID', { role: 'integrator', scope: { appIds: ['app-01'] } }, { path: 'body.scope.appIds.0' }],
  ])('refuses %s (400 validation naming the field and rule) and records nothing', async (_what, body, error) => {
    const before = rows(svc.dir);
    const response = await issue({ subject: 'refused', ...body });
    expect(response.status).toBe(400);
    const problem = (await response.json()) as { errors: unknown[] };
    expect(problem.errors).toEqual([expect.objectContaining(error)]);
    expect(rows(svc.dir)).toBe(before);
    expect((await listed()).some((t) => t.subject === 'refused')).toBe(false);
  });

  it('refuses a token whose recorded scope was edited into one that is not a scope (never read as the whole fleet)', async () => {
    const issued = (await (await issue({ subject: 'city-09', role: 'integrator', scope: { subscriptions: ['sub-09'] } })).json()) as { token: string; tokenId: string };
    expect((await openStream(svc.url, issued.token, '/v1/events?from=end')).status).toBe(200);
    const db = new Database(join(svc.dir, 'access.db'));
    try {
      db.prepare('UPDATE tokens SET scope = ? WHERE token_id = ?').run(JSON.stringify({ subscriptions: ['sub 09', 'anything'] }), issued.tokenId);
    } finally {
      db.close();
    }
    const refused = await openStream(svc.url, issued.token, '/v1/events?from=end');
    expect(refused.status).toBe(401);
    expect(refused.problem).toMatchObject({ reason: 'scope does not match its record' });
  });
});

describe('a token issued with a scoped token (integrators issue none through the service; the access control holds the rule)', () => {
  it('cannot widen the scope: an id outside it, or no scope at all, is refused and recorded nowhere', async () => {
    const access = svc.service.context.access;
    const scoped = await access.issue({ subject: 'city-02', role: 'integrator', ttlSeconds: 3600, issuedBy: 'test', scope: { subscriptions: ['sub-01'] } as PublicScope });
    const issuer = await access.verify(scoped.token);
    expect(issuer.scope).toEqual({ subscriptions: ['sub-01'] });
    const before = rows(svc.dir);
    const refused = async (scope: PublicScope | undefined) =>
      access.issue({ subject: 'city-03', role: 'integrator', ttlSeconds: 60, issuedBy: 'test', issuer, ...(scope !== undefined ? { scope } : {}) }).then(
        () => [],
        (error: { problem: { issues: Array<{ path: string; rule: string }> } }) => error.problem.issues.map((i) => `${i.path} ${i.rule}`),
      );
    expect(await refused({ subscriptions: ['sub-01', 'sub-09'] } as PublicScope)).toEqual(['scope.subscriptions.1 within_issuer_scope']);
    expect(await refused({ appIds: ['Rapp01'] } as PublicScope)).toEqual(['scope.appIds.0 within_issuer_scope']);
    expect(await refused(undefined)).toEqual(['scope within_issuer_scope']);
    expect(rows(svc.dir)).toBe(before);
    expect(await refused({ subscriptions: ['sub-01'] } as PublicScope)).toEqual([]);
    expect(rows(svc.dir)).toBe(before + 1);
  });
});

describe('credence token create --subscription / --app-id', () => {
  it('issues a scoped integrator token on the data folder, shown in token list (text and JSON)', async () => {
    const data = join(folder(), 'data');
    const created = await runCli(['token', 'create', '--data', data, '--role', 'integrator', '--subject', 'city-01', '--ttl', '1h', '--subscription', 'sub-01', '--app-id', 'Rapp01', '--subscription', 'sub-02']);
    expect(created.code, created.err).toBe(0);
    expect(created.err).toMatch(/integrator token for city-01 \(scope: subscriptions sub-01, sub-02; App-IDs Rapp01\)/);
    const text = await runCli(['token', 'list', '--data', data]);
    expect(text.out).toMatch(/ city-01 \(scope: subscriptions sub-01, sub-02; App-IDs Rapp01\)$/m);
    const listedJson = JSON.parse((await runCli(['token', 'list', '--data', data, '--json'])).out) as { tokens: unknown[] };
    expect(listedJson.tokens).toEqual([expect.objectContaining({ subject: 'city-01', scope: { subscriptions: ['sub-01', 'sub-02'], appIds: ['Rapp01'] } })]);
  });

  it('through a server, sends the scope, and lists it', async () => {
    const created = await runCli(['token', 'create', '--server', svc.url, '--token', svc.tokens.admin, '--role', 'integrator', '--subject', 'app-01', '--ttl', '1h', '--app-id', 'Rapp01', '--json']);
    expect(created.code, created.err).toBe(0);
    expect(JSON.parse(created.out)).toMatchObject({ subject: 'app-01', scope: { appIds: ['Rapp01'] } });
    const text = await runCli(['token', 'list', '--server', svc.url, '--token', svc.tokens.admin]);
    expect(text.out).toMatch(/ app-01 \(scope: App-IDs Rapp01\)$/m);
  });

  it.each([
    ['on another role', ['--role', 'auditor', '--subscription', 'sub-01'], /^error: --subscription, --app-id: only an integrator token has a scope/],
    ['a malformed subscription id', ['--role', 'integrator', '--subscription', 'sub 01'], /^error: --subscription "sub 01": M2M-Sub-ID must be/],
    ['a malformed App-ID', ['--role', 'integrator', '--app-id', 'app-01'], /^error: --app-id "app-01": App-ID must start with R/],
    ['33 subscriptions', ['--role', 'integrator', ...Array.from({ length: 33 }, (_, i) => ['--subscription', `sub-${i}`]).flat()], /^error: --subscription: Too big: expected array to have <=32 items$/],
  ])('refuses a scope %s with exit 2, making no data folder and recording nothing', async (_what, flags, message) => {
    const data = join(folder(), 'data');
    const refused = await runCli(['token', 'create', '--data', data, '--subject', 'x', '--ttl', '1h', ...flags]);
    expect(refused.code, refused.err).toBe(2);
    expect(refused.err).toMatch(message);
    expect(existsSync(data)).toBe(false);
    // On a folder that exists, the same: no row.
    const made = await runCli(['token', 'create', '--data', data, '--role', 'admin', '--subject', 'a', '--ttl', '1h']);
    expect(made.code, made.err).toBe(0);
    expect((await runCli(['token', 'create', '--data', data, '--subject', 'x', '--ttl', '1h', ...flags])).code).toBe(2);
    expect(rows(data)).toBe(1);
  });
});
