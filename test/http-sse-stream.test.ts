import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../domain/ports/event-store.ts';
import { startTestService, type TestService } from './support/service.ts';
import { dataOf, openStream, ops, settled } from './http-sse.fixtures.ts';

// Issue 12, "Integrator streams as server-sent events": GET /v1/events over real HTTP. Every event's id is its
// global position; kind/type/stream filters; integrators get pseudonyms only; heartbeats; a cap per principal.

let svc: TestService;
let all: RecordedEvent[];

// Every identifier holds a 0, 1, 8 or 9, which the base32 alphabet of pseudonyms lacks: a match is a real leak.
const CANONICAL = ['sub-01', 'meter-01', 'meter-09', 'cred-01'];

beforeAll(async () => {
  svc = await startTestService({ config: { limits: { sseHeartbeatMs: 50, maxSseStreamsPerPrincipal: 2 } } });
  const { engine } = svc.service.context.credence;
  for (const step of [
    ops.createSubscription('sub-01'),
    ops.createSubscription('sub-09'),
    ops.registerNode('meter-01'),
    ops.registerNode('meter-09'),
    ops.enrolNode('meter-01', 'sub-01'),
    ops.issueCredential('cred-01', 'meter-01'),
  ]) {
    await engine.execute(step);
  }
  const { store } = svc.service.context.credence;
  await settled(svc);
  all = [];
  for await (const e of store.readAll()) all.push(e);
}, 30_000);
afterAll(async () => {
  await svc?.close();
});

const stream = (path: string, role: keyof TestService['tokens'] = 'operator', headers?: Record<string, string>) =>
  openStream(svc.url, svc.tokens[role], path, headers);

/** The events of `all` that `keep` selects, as (id, type) pairs. */
const expected = (keep: (e: RecordedEvent) => boolean) => all.filter(keep).map((e) => ({ id: e.position.toString(), event: e.type }));
/** What an operator's canonical stream tells: every event but a pseudonym's stream's (no resolution of it recorded; review 223). */
const told = (e: RecordedEvent): boolean => !e.streamId.startsWith('pseudonym-');

const received = async (path: string, count: number, role: keyof TestService['tokens'] = 'operator') => {
  const s = await stream(path, role);
  try {
    expect(s.status).toBe(200);
    await s.until(() => s.events().length >= count, `${count} events of ${path}`);
    return s.events();
  } finally {
    s.close();
  }
};

describe('GET /v1/events', () => {
  it('streams every lifecycle event with id = its global position, event = its type, data with positions as strings', async () => {
    const s = await stream('/v1/events');
    try {
      expect(s.status).toBe(200);
      expect(s.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(s.headers.get('cache-control')).toBe('no-store, no-transform');
      expect(s.headers.get('x-accel-buffering')).toBe('no');
      const want = expected(told);
      await s.until(() => s.events().length >= want.length, 'the whole history');
      expect(s.frames[0]).toEqual({ kind: 'retry', ms: expect.any(Number) });
      expect(s.events().map((e) => ({ id: e.id.split('~')[0], event: e.event }))).toEqual(want);
      const first = dataOf(s.events()[0]!);
      expect(first).toMatchObject({ position: all[0]!.position.toString(), streamId: 'subscription-sub-01', revision: '0', type: 'SubscriptionCreated' });
      expect(first['metadata']).toMatchObject({ actor: { id: 'operator:alice', role: 'operator' } });

      // Then live: an event appended now arrives on the open stream.
      const outcome = await svc.service.context.credence.engine.execute(ops.createSubscription('sub-live'));
      const position = outcome.events[0]!.position.toString();
      await s.until(() => s.events().some((e) => e.id.split('~')[0] === position), 'the live event');
    } finally {
      s.close();
    }
  });

  it('filters by kind, type and stream, as repeated parameters or comma lists', async () => {
    const nodes = expected((e) => e.streamId.startsWith('node-'));
    expect(nodes.length).toBeGreaterThan(1);
    expect((await received('/v1/events?kind=node', nodes.length)).map((e) => ({ id: e.id.split('~')[0], event: e.event }))).toEqual(nodes);

    const nodesAndCredentials = expected((e) => e.streamId.startsWith('node-') || e.streamId.startsWith('credential-'));
    for (const query of ['kind=node,credential', 'kind=node&kind=credential']) {
      const got = await received(`/v1/events?${query}`, nodesAndCredentials.length);
      expect(got.map((e) => e.id.split('~')[0])).toEqual(nodesAndCredentials.map((e) => e.id.split('~')[0]));
    }

    const registered = expected((e) => e.type === 'NodeRegistered' || e.type === 'CredentialIssued');
    const got = await received('/v1/events?type=NodeRegistered,CredentialIssued', registered.length);
    expect(got.map((e) => e.id.split('~')[0])).toEqual(registered.map((e) => e.id.split('~')[0]));

    const one = expected((e) => e.streamId === 'node-meter-01');
    expect((await received('/v1/events?stream=node-meter-01', one.length)).map((e) => e.id.split('~')[0])).toEqual(one.map((e) => e.id.split('~')[0]));
  });

  it('resumes strictly after Last-Event-ID, or after ?after=, and refuses an invalid one with 400', async () => {
    const k = 3;
    const tail = expected((e) => told(e) && e.position > all[k]!.position);
    const byHeader = await stream('/v1/events', 'operator', { 'last-event-id': all[k]!.position.toString() });
    try {
      await byHeader.until(() => byHeader.events().length >= tail.length, 'the tail');
      expect(byHeader.events().slice(0, tail.length).map((e) => e.id.split('~')[0])).toEqual(tail.map((e) => e.id.split('~')[0]));
    } finally {
      byHeader.close();
    }
    expect((await received(`/v1/events?after=${all[k]!.position}`, tail.length)).slice(0, tail.length).map((e) => e.id.split('~')[0])).toEqual(tail.map((e) => e.id.split('~')[0]));

    // Positions are bounded by what a store holds (2^63 - 1): a larger one is a 400, never a store error.
    const tooLarge = ['9223372036854775808', '99999999999999999999'];
    for (const bad of ['abc', '-1', '1.5', '007', '1'.repeat(21), ...tooLarge]) {
      const refused = await stream('/v1/events', 'operator', { 'last-event-id': bad });
      expect(refused.status, bad).toBe(400);
      expect(refused.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect(refused.problem!['errors']).toEqual([expect.objectContaining({ path: 'headers.last-event-id' })]);
    }
    for (const bad of tooLarge) {
      const refused = await stream(`/v1/events?after=${bad}`);
      expect(refused.status, bad).toBe(400);
      expect(refused.problem!['errors']).toEqual([expect.objectContaining({ path: 'query.after', message: expect.stringMatching(/2\^63 - 1/) })]);
    }
    // The largest position passes the schema; past the log's newest event it names no event of this log: 409
    // (test/http-sse-resume-past-the-head-refused.test.ts).
    const last = await stream('/v1/events', 'operator', { 'last-event-id': '9223372036854775807' });
    expect(last.status).toBe(409);
    expect(last.problem).toMatchObject({ resumeAfter: '9223372036854775807' });
  });

  it('refuses bad filters with 400 naming each query parameter', async () => {
    const cases: [string, string][] = [
      ['kind=gadget', 'query.kind.0'],
      ['type=NoSuchEvent', 'query.type.0'],
      ['stream=gadget-1', 'query.stream.0'],
      ['kind=node&type=CredentialIssued', 'query.type.0'],
      ['identifiers=plain', 'query.identifiers'],
      ['after=5&from=end', 'query.from'],
      ['colour=blue', 'query.colour'],
      [`stream=${Array.from({ length: 101 }, (_, i) => `node-${i}`).join(',')}`, 'query.stream'],
    ];
    for (const [query, path] of cases) {
      const refused = await stream(`/v1/events?${query}`);
      expect(refused.status, query).toBe(400);
      expect((refused.problem!['errors'] as { path: string }[]).map((e) => e.path), query).toContain(path);
    }
  });

  it('gives integrators pseudonymised identifiers only, and 403 when they ask for canonical ones', async () => {
    const published = all.filter((e) => !e.type.startsWith('Pseudonym'));
    const got = await received('/v1/events', published.length, 'integrator');
    expect(got.map((e) => e.id.split('~')[0])).toEqual(published.map((e) => e.position.toString()));
    const text = got.map((e) => e.data).join('\n');
    for (const id of CANONICAL) expect(text).not.toContain(id);
    expect(dataOf(got[0]!)).toMatchObject({ position: published[0]!.position.toString(), type: 'SubscriptionCreated', actorRole: 'operator' });
    expect(dataOf(got[0]!)).not.toHaveProperty('metadata');

    const canonical = await stream('/v1/events?identifiers=canonical', 'integrator');
    expect(canonical.status).toBe(403);
    expect(canonical.headers.get('content-type')).toMatch(/application\/problem\+json/);
    // Canonical stream ids cannot be a filter of the public stream.
    expect((await stream('/v1/events?stream=node-meter-01', 'integrator')).status).toBe(400);
    // Nor a kind or type it never publishes, which would be a stream silent for ever in one of the few pseudonymised
    // places (review 28); on the canonical stream they are filters like any other.
    for (const [query, path] of [['kind=pseudonym', 'query.kind.0'], ['type=PseudonymRotated', 'query.type.0'], ['kind=node,pseudonym', 'query.kind.1']]) {
      const refused = await stream(`/v1/events?${query}`, 'integrator');
      expect(refused.status, query).toBe(400);
      expect(refused.problem!['errors'], query).toEqual([expect.objectContaining({ path, rule: 'not_published' })]);
      expect((await stream(`/v1/events?${query}&identifiers=pseudonymous`, 'integrator')).status, query).toBe(400);
      // An auditor's canonical stream takes them (a resolution recorded while it runs tells them); an operator's, which
      // never tells a pseudonym's stream, refuses them as a stream silent for ever (review 223).
      const canonicalFilter = await stream(`/v1/events?${query}`, 'auditor');
      expect(canonicalFilter.status, query).toBe(200);
      canonicalFilter.close();
      const operators = await stream(`/v1/events?${query}`);
      expect(operators.status, query).toBe(400);
      expect(operators.problem!['errors'], query).toEqual([expect.objectContaining({ rule: 'not_told' })]);
    }

    // Nor may an operator or an auditor ask for it: its positions would pair with their canonical stream's (review 229).
    for (const role of ['operator', 'auditor'] as const) {
      const refused = await stream('/v1/events?identifiers=pseudonymous', role);
      expect(refused.status, role).toBe(403);
      expect(refused.frames, role).toEqual([]);
    }
  });

  it('refuses roles outside operator, auditor and integrator', async () => {
    expect((await stream('/v1/events', 'admin')).status).toBe(403);
    const anonymous = await fetch(new URL('/v1/events', svc.url));
    expect(anonymous.status).toBe(401);
    await anonymous.body?.cancel();
  });

  it('sends heartbeats on a quiet stream', async () => {
    const s = await stream('/v1/events?from=end', 'auditor');
    try {
      await s.until(() => s.frames.filter((f) => f.kind === 'comment' && f.text === 'heartbeat').length >= 2, 'two heartbeats');
      expect(s.events()).toEqual([]);
    } finally {
      s.close();
    }
  });

  it('caps the concurrent streams of one principal: 429 with Retry-After, and a slot comes back when a stream ends', async () => {
    const first = await stream('/v1/events?from=end', 'auditor');
    const second = await stream('/v1/events?from=end', 'auditor');
    const third = await stream('/v1/events?from=end', 'auditor');
    try {
      expect([first.status, second.status]).toEqual([200, 200]);
      expect(third.status).toBe(429);
      expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(third.problem).toMatchObject({ status: 429, type: expect.stringMatching(/too_many_streams$/), limit: 2 });
      // Another principal is not affected.
      const other = await stream('/v1/events?from=end', 'integrator');
      expect(other.status).toBe(200);
      other.close();

      first.close();
      await expect
        .poll(async () => {
          const again = await stream('/v1/events?from=end', 'auditor');
          again.close();
          return again.status;
        }, { timeout: 10_000 })
        .toBe(200);
    } finally {
      for (const s of [first, second, third]) s.close();
    }
  });
});
