import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { answerQuery, COMPLIANCE_QUERIES, type ExpiringRow } from '../projections/compliance/index.ts';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { body, openApi, settled, type Api } from './http-conformance.fixtures.ts';
import { at, cmd, issueCredentialData, T0 } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';
import { tempDirs } from './support/temp-dirs.ts';

/*
 * Review 142: `expiring` ordered by (notAfter, credential id) and answered at most `limit` rows with no cursor, so the
 * credentials sharing one notAfter past the first `limit` (a fleet of birth certificates with one fixed notAfter) were
 * out of reach of any parameters. It pages now by a cursor of its own order, `<notAfterMs>:<credentialId>`.
 */

const SHARED = ['cred-a', 'cred-b', 'cred-c', 'cred-d', 'cred-e'];

const pages = (c: ReturnType<typeof openCredence>, limit: number): { ids: string[][]; cursors: (bigint | string | undefined)[] } => {
  const ids: string[][] = [];
  const cursors: (bigint | string | undefined)[] = [];
  let after: string | undefined;
  for (let i = 0; i < 10; i++) {
    const params = COMPLIANCE_QUERIES.expiring.params.parse({ days: '30', now: T0, limit: String(limit), ...(after !== undefined ? { after } : {}) });
    const answer = answerQuery('expiring', c.readModels, params, new Date(T0));
    ids.push((answer.rows as readonly ExpiringRow[]).map((r) => r.credentialId));
    cursors.push(answer.nextAfter);
    if (!answer.truncated) return { ids, cursors };
    after = String(answer.nextAfter);
  }
  throw new Error('never ended');
};

describe('expiring pages through credentials sharing one notAfter', () => {
  it('returns every one once, in order, with limit 2', async () => {
    const c = openCredence({ location: { memory: true }, clock: new FakeClock(T0) });
    await c.engine.execute(cmd.createSubscription('sub-a'));
    await c.engine.execute(cmd.registerNode('meter-1'));
    await c.engine.execute(cmd.enrolNode('meter-1', 'sub-a'));
    // Issued out of id order, and one sooner than the rest.
    for (const id of ['cred-d', 'cred-b', 'cred-e', 'cred-a', 'cred-c']) await c.engine.execute(cmd.issueCredential(id, 'meter-1', at(20)));
    await c.engine.execute(cmd.issueCredential('cred-z', 'meter-1', at(10)));
    await c.settle();
    const { ids, cursors } = pages(c, 2);
    expect(ids).toEqual([['cred-z', 'cred-a'], ['cred-b', 'cred-c'], ['cred-d', 'cred-e'], []].slice(0, ids.length));
    expect(ids.flat()).toEqual(['cred-z', ...SHARED]);
    expect(cursors[0]).toBe(`${Date.parse(at(20))}:cred-a`);
  });

  it('refuses a malformed cursor naming it and the form it takes', () => {
    for (const after of ['cred-a', '12:', '12:-bad', `12:${'x'.repeat(200)}`, ':cred-a', '12']) {
      const parsed = COMPLIANCE_QUERIES.expiring.params.safeParse({ days: '30', after });
      expect(parsed.success, after).toBe(false);
      expect(parsed.error!.issues.map((i) => i.path.join('.'))).toEqual(['after']);
      expect(parsed.error!.issues[0]!.message).toContain('<notAfterMs>:<credentialId>');
    }
  });

  describe('over HTTP', () => {
    let svc: TestService;
    let api: Api;
    const folders = tempDirs('credence-expiring-pages-');
    const notAfter = new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000 + 10 * 86_400_000).toISOString();
    const get = (params: Record<string, string>) => api.call('GET', '/v1/compliance/{query}', { query: 'expiring' }, { token: svc.tokens.auditor, query: params });

    beforeAll(async () => {
      svc = await startTestService({ dir: folders.make() });
      api = await openApi(svc);
      const issue = (id: string) => ({ type: 'issueCredential', data: issueCredentialData(id, 'meter-1', { notBefore: new Date(Date.now() - 86_400_000).toISOString(), notAfter }) });
      for (const command of [body.createSubscription(), body.registerNode('meter-1'), body.enrolNode('meter-1'), ...SHARED.map(issue)]) {
        expect((await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: command })).status).toBe(201);
      }
      await settled(svc);
    });
    afterAll(async () => {
      await svc?.close();
      folders.cleanup();
    });

    it('names nextAfter and the credence-next-after header, and the next page follows it', async () => {
      const seen: string[] = [];
      let after: string | undefined;
      for (let i = 0; i < 5; i++) {
        const res = await get({ days: '30', limit: '2', ...(after !== undefined ? { after } : {}) });
        expect(res.status).toBe(200);
        const answer = res.body as { rows: { credentialId: string }[]; truncated: boolean; nextAfter?: string };
        seen.push(...answer.rows.map((r) => r.credentialId));
        expect(res.headers.get('credence-next-after') ?? undefined).toBe(answer.nextAfter);
        if (!answer.truncated) break;
        expect(answer.nextAfter).toMatch(new RegExp(`^${Date.parse(notAfter)}:${answer.rows.at(-1)!.credentialId}@\\d+~[0-9a-f]{8}\\.[0-9a-f]{8}$`));
        after = answer.nextAfter;
      }
      expect(seen).toEqual(SHARED);
    });

    it('credence query expiring names the next page on stderr, and --after goes on from it (--server and --data)', async () => {
      for (const target of [['--server', svc.url, '--token', svc.tokens.auditor], ['--data', svc.dir]]) {
        const seen: string[] = [];
        let after: string | undefined;
        for (let i = 0; i < 5; i++) {
          const run = capture();
          expect(await main(['query', 'expiring', '--days', '30', '--limit', '2', '--json', ...(after !== undefined ? ['--after', after] : []), ...target], { ...run.io, env: {} }), run.err.join('\n')).toBe(0);
          const answer = JSON.parse(run.out.join('\n')) as { rows: { credentialId: string }[]; truncated: boolean; nextAfter?: string };
          seen.push(...answer.rows.map((r) => r.credentialId));
          if (!answer.truncated) break;
          expect(run.err.join('\n')).toContain(`the next page is --after ${answer.nextAfter}`);
          after = answer.nextAfter;
        }
        expect(seen, target[0]).toEqual(SHARED);
      }
    });

    it('refuses a malformed cursor (400 naming query.after), and never reads it as a position past the head', async () => {
      const bad = await get({ days: '30', after: '12:-bad' });
      expect(bad.status).toBe(400);
      expect(JSON.stringify(bad.body)).toContain('query.after');
      // A notAfterMs far past any position the log holds is a key of the answer's order, not a resume point.
      const far = await get({ days: '30', after: '9999999999999999:zzz' });
      expect(far.status).toBe(200);
      expect((far.body as { rows: unknown[] }).rows).toEqual([]);
    });
  });
});
