import { hash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../domain/ports/event-store.ts';
import { openStream } from './http-sse.fixtures.ts';
import { cmd } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 310, finding 2: `Last-Event-ID: 0~deadbeef` (or `?after=0~deadbeef`) was answered 409
 * resume_point_not_in_log, "the event at position 0 of this log is not the one that id was given for … an id of
 * another log". Position 0 holds no event and no stream sends a tag with it: the id is malformed, whatever log it is
 * sent to. It is a 400 naming the field and the rule (invalid_format) and saying position 0 takes no tag, without echoing the tag.
 * A bare 0 (from the start) and a tagged id of a real position keep their meaning.
 */

let svc: TestService;
let first: RecordedEvent;
let second: RecordedEvent;

beforeAll(async () => {
  svc = await startTestService();
  for (const node of ['meter-position-0-a', 'meter-position-0-b']) await svc.service.context.credence.engine.execute(cmd.registerNode(node));
  await svc.service.context.credence.settle();
  const registrations: RecordedEvent[] = [];
  for await (const e of svc.service.context.credence.store.readAll()) if (e.type === 'NodeRegistered') registrations.push(e);
  [first, second] = registrations as [RecordedEvent, RecordedEvent];
  expect(first.position).toBe(1n);
}, 60_000);
afterAll(async () => {
  await svc?.close();
});

const TAG = 'deadbeef';

const asked = (via: 'header' | 'query', id: string): { readonly path: string; readonly headers: Record<string, string> } =>
  via === 'header' ? { path: '/v1/events', headers: { 'last-event-id': id } } : { path: `/v1/events?after=${encodeURIComponent(id)}`, headers: {} };

describe.each(['header', 'query'] as const)('an event id sent as the %s', (via) => {
  it.each(['operator', 'auditor', 'integrator'] as const)('tagged at position 0 is a 400 invalid_format for the %s, not a 409 of another log', async (role) => {
    const { path, headers } = asked(via, `0~${TAG}`);
    const s = await openStream(svc.url, svc.tokens[role], path, headers);
    s.close();
    expect(s.status).toBe(400);
    const problem = s.problem as { type?: string; detail?: string; errors?: Array<{ path: string; rule: string; message: string }> };
    expect(problem.type).toMatch(/\/validation$/);
    expect(problem.errors?.map((e) => [e.path, e.rule])).toEqual([[via === 'header' ? 'headers.last-event-id' : 'query.after', 'invalid_format']]);
    expect(problem.errors?.[0]?.message).toMatch(/position 0, which holds no event, takes none/);
    expect(JSON.stringify(problem)).not.toContain(TAG);
    expect(JSON.stringify(problem)).not.toMatch(/resume_point_not_in_log|another log/);
  });

  it('a bare 0 still starts from the beginning', async () => {
    const { path, headers } = asked(via, '0');
    const s = await openStream(svc.url, svc.tokens.auditor, path, headers);
    try {
      expect(s.status, JSON.stringify(s.problem)).toBe(200);
      await s.until(() => s.events().length >= 1, 'the first event');
      expect(s.events()[0]!.id).toMatch(/^1~[0-9a-f]{8}$/);
    } finally {
      s.close();
    }
  });

  it("a real position's own tag still resumes after it; another tag there is still another log's (409)", async () => {
    const own = `${first.position}~${hash('sha256', first.id, 'hex').slice(0, 8)}`;
    const resumed = await openStream(svc.url, svc.tokens.auditor, asked(via, own).path, asked(via, own).headers);
    try {
      expect(resumed.status, JSON.stringify(resumed.problem)).toBe(200);
      await resumed.until(() => resumed.events().length >= 1, 'the event after it');
      // The next event an auditor is told: the second registration (the first's rotation between is withheld).
      expect(BigInt(resumed.events()[0]!.id.split('~')[0]!)).toBe(second.position);
    } finally {
      resumed.close();
    }
    const other = `${first.position}~${TAG}`;
    const refused = await openStream(svc.url, svc.tokens.auditor, asked(via, other).path, asked(via, other).headers);
    refused.close();
    expect(refused.status).toBe(409);
    expect((refused.problem as { type?: string }).type).toMatch(/\/resume_point_not_in_log$/);
  });
});
