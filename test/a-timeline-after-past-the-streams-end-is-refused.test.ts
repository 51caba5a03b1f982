import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { settled } from './http-sse.fixtures.ts';
import { cmd, T0 } from './support/fleet.ts';
import { useTestService } from './support/service.ts';

/*
 * Review 272: `GET /v1/entities/{kind}/{id}/timeline?limit=&after=999` of a 5-event stream answered 200 with no entries
 * and no `nextAfter`, which a pager reads as "no more entries". An `after` past the stream's last revision is refused
 * now, as a compliance `after` past the log's head is: 409 `resume_point_not_in_log`, naming `query.after`. The last
 * revision itself is a last page, as before.
 */
describe('a timeline page after a revision the stream does not reach', () => {
  const svc = useTestService({ clock: new FakeClock(T0) });
  const page = async (params: Record<string, string>) => {
    const r = await fetch(`${svc.url}/v1/entities/credential/cred-1/timeline?${new URLSearchParams(params)}`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> & { entries?: { revision: string }[]; nextAfter?: string } };
  };

  it('is refused naming query.after and the last revision; the last revision is a last page; pages read every entry once', async () => {
    const { engine, store } = svc.service.context.credence;
    for (const c of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential(), cmd.provisionCredential(), cmd.configureAssociation(), cmd.establishAssociation()]) {
      await engine.execute(c);
    }
    await engine.execute(cmd.revokeCredential());
    await settled(svc);
    const events = await store.readStream('credential-cred-1');
    const last = events.at(-1)!.revision.toString(10);
    expect(events.length).toBeGreaterThanOrEqual(3);

    for (const after of [String(events.length), '999', '9223372036854775807']) {
      const refused = await page({ limit: '10', after });
      expect(refused.status, after).toBe(409);
      expect(refused.body).toMatchObject({ type: expect.stringMatching(/resume_point_not_in_log$/), path: 'query.after', resumeAfter: after, head: last });
      expect(refused.body['detail']).toMatch(/^query\.after: /);
      expect(refused.body['detail']).toContain(`its last revision is ${last}`);
    }

    const atTheEnd = await page({ limit: '10', after: last });
    expect(atTheEnd).toMatchObject({ status: 200, body: { entries: [] } });
    expect(atTheEnd.body.nextAfter).toBeUndefined();

    // A pager following `nextAfter` reads every entry once and is never refused.
    const read: string[] = [];
    let after: string | undefined;
    do {
      const next = await page({ limit: '2', ...(after !== undefined ? { after } : {}) });
      expect(next.status).toBe(200);
      read.push(...next.body.entries!.map((e) => e.revision));
      after = next.body.nextAfter;
    } while (after !== undefined);
    expect(read).toEqual(events.map((e) => e.revision.toString(10)));
  });
});
