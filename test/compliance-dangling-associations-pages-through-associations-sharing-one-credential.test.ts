import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { answerQuery, COMPLIANCE_QUERIES, type DanglingAssociationRow } from '../projections/compliance/index.ts';
import { openApi, type Api } from './http-conformance.fixtures.ts';
import { cmd, T0 } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';
import { tempDirs } from './support/temp-dirs.ts';

/*
 * `dangling-associations` is ordered by the position that ended the credential, then association id, and answered at
 * most `limit` rows with no cursor: the associations of one revoked credential past the first `limit` were out of
 * reach of any parameters. It pages now by a cursor of its own order, `<position>:<associationId>`, as `expiring` does.
 */

describe('dangling-associations pages through the associations of one credential', () => {
  it('returns every one once, in order, with limit 2, each cursor naming the last row', async () => {
    const c = openCredence({ location: { memory: true }, clock: new FakeClock(T0) });
    await c.engine.execute(cmd.createSubscription());
    await c.engine.execute(cmd.registerNode('meter-1'));
    await c.engine.execute(cmd.enrolNode('meter-1'));
    await c.engine.execute(cmd.issueCredential('cred-1', 'meter-1'));
    await c.engine.execute(cmd.provisionCredential('cred-1'));
    // Configured out of id order: the answer's order is the id's, not the log's.
    for (const sa of ['sa-d', 'sa-b', 'sa-e', 'sa-a', 'sa-c']) {
      await c.engine.execute(cmd.configureAssociation(sa, 'cred-1', 'meter-1'));
      await c.engine.execute(cmd.establishAssociation(sa));
    }
    await c.settle();
    const revoked = (await c.engine.execute(cmd.revokeCredential('cred-1', 'keyCompromise'))).events[0]!.position;
    // The compliance read model alone, before the cascade has reacted: all five dangle.
    await c.runner.catchUp('compliance');

    const pages: string[][] = [];
    const cursors: unknown[] = [];
    let after: string | undefined;
    for (let i = 0; i < 10; i++) {
      const params = COMPLIANCE_QUERIES['dangling-associations'].params.parse({ limit: '2', ...(after !== undefined ? { after } : {}) });
      const answer = answerQuery('dangling-associations', c.readModels, params, new Date(T0));
      pages.push((answer.rows as readonly DanglingAssociationRow[]).map((r) => r.associationId));
      cursors.push(answer.nextAfter);
      if (!answer.truncated) break;
      after = String(answer.nextAfter);
    }
    expect(pages).toEqual([['sa-a', 'sa-b'], ['sa-c', 'sa-d'], ['sa-e']]);
    expect(cursors).toEqual([`${revoked}:sa-b`, `${revoked}:sa-d`, undefined]);
    await c.close();
  });

  it('refuses a malformed cursor naming after and the form it takes, and a position past 2^63 - 1 as out of range', () => {
    for (const after of ['sa-a', '12:', '12:-bad', `12:${'x'.repeat(200)}`, ':sa-a', '12', '12345678901234567890:sa-a']) {
      const parsed = COMPLIANCE_QUERIES['dangling-associations'].params.safeParse({ after });
      expect(parsed.success, after).toBe(false);
      expect(parsed.error!.issues.map((i) => i.path.join('.')), after).toEqual(['after']);
      expect(parsed.error!.issues[0]!.message, after).toContain('<position>:<associationId>');
    }
    const far = COMPLIANCE_QUERIES['dangling-associations'].params.safeParse({ after: '9999999999999999999:sa-a' });
    expect(far.success).toBe(false);
    expect(far.error!.issues[0]!.message).toContain('at most 2^63 - 1');
  });

  describe('over HTTP', () => {
    let svc: TestService;
    let api: Api;
    const folders = tempDirs('credence-dangling-pages-');
    const get = (params: Record<string, string>) =>
      api.call('GET', '/v1/compliance/{query}', { query: 'dangling-associations' }, { token: svc.tokens.auditor, query: params });

    beforeAll(async () => {
      svc = await startTestService({ dir: folders.make() });
      api = await openApi(svc);
    });
    afterAll(async () => {
      await svc?.close();
      folders.cleanup();
    });

    it('takes a cursor (400 naming query.after when malformed), and refuses one past the newest event as a resume point not in the log', async () => {
      const bad = await get({ after: '12:-bad' });
      expect(bad.status).toBe(400);
      expect(JSON.stringify(bad.body)).toContain('query.after');
      // Its position is a place in the log: past the head, an empty page would read as "no more rows".
      const past = await get({ after: '9000000:sa-a' });
      expect(past.status).toBe(409);
      expect(JSON.stringify(past.body)).toContain('resume_point_not_in_log');
      const fromStart = await get({ after: '0:sa-a' });
      expect(fromStart.status).toBe(200);
      expect((fromStart.body as { rows: unknown[] }).rows).toEqual([]);
    });
  });
});
