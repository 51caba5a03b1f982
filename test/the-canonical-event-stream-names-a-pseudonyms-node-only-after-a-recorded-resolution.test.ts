import { hash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../domain/ports/event-store.ts';
import { body, openApi, settled, type Api } from './http-conformance.fixtures.ts';
import { dataOf, openStream, ops, type RawStream } from './http-sse.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';

/**
 * Review 223 (SER-025, SER-011): GET /v1/events (canonical, "Replay the history first" in the console) carried every
 * PseudonymRotated whole to operators and auditors: `data.nodeId`, and a correlation id that is the node's
 * registerNode command id and a causation id that is its NodeRegistered event id. The node behind each pseudonym was
 * learnt with no resolution recorded, while the pseudonym's timeline refused (403) until one was. Now the canonical
 * stream leaves out the events of a pseudonym's stream unless the caller is an auditor who recorded a resolution of
 * that pseudonym, and resume points around a left-out event work: its position resumes (the ids around it are
 * ordinary), and its own tag is neither checked nor handed out (a plain hash of its event id, which derives from the
 * node's registration, would test a guessed node).
 */
describe('the canonical event stream names the node behind a pseudonym only to an auditor who recorded its resolution', () => {
  const NODE = 'hidden-meter-8';
  let svc: TestService;
  let api: Api;
  let pseudonym = '';
  let rotation: RecordedEvent;
  let registration: RecordedEvent;
  let after: RecordedEvent;
  let otherAuditor = '';

  const readAll = async (): Promise<RecordedEvent[]> => {
    const all: RecordedEvent[] = [];
    for await (const e of svc.service.context.credence.store.readAll()) all.push(e);
    return all;
  };
  const isPseudonyms = (e: { streamId: string }): boolean => e.streamId.startsWith('pseudonym-');

  /** Opens the canonical stream and waits until it delivered the event at `position`. */
  const streamUntil = async (token: string, path: string, position: bigint, headers?: Record<string, string>): Promise<RawStream> => {
    const s = await openStream(svc.url, token, path, headers);
    expect(s.status, JSON.stringify(s.problem)).toBe(200);
    await s.until(() => s.events().some((e) => e.id.split('~')[0] === position.toString(10)), `the event at ${position}`);
    return s;
  };

  /** What of the stream's frames could name the node behind the pseudonym. */
  const namesTheNode = (s: RawStream): unknown[] =>
    s.events().filter((e) => {
      const data = dataOf(e);
      const metadata = data['metadata'] as Record<string, unknown>;
      return (
        isPseudonyms(data as { streamId: string }) ||
        e.data.includes(pseudonym) ||
        (data['streamId'] !== `node-${NODE}` && (metadata['correlationId'] === registration.metadata['commandId'] || metadata['causationId'] === registration.id))
      );
    });

  beforeAll(async () => {
    svc = await startTestService({ config: { limits: { sseHeartbeatMs: 50 } } });
    api = await openApi(svc);
    expect((await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: body.registerNode(NODE) })).status).toBe(201);
    await settled(svc);
    await svc.service.context.credence.engine.execute(ops.createSubscription('sub-after-the-rotation'));
    await settled(svc);
    const all = await readAll();
    rotation = all.find((e) => e.type === 'PseudonymRotated' && e.data['nodeId'] === NODE)!;
    registration = all.find((e) => e.type === 'NodeRegistered' && e.data['nodeId'] === NODE)!;
    after = all.find((e) => e.streamId === 'subscription-sub-after-the-rotation')!;
    pseudonym = String(rotation.data['pseudonym']);
    expect(rotation.position).toBeGreaterThan(registration.position);
    expect(after.position).toBeGreaterThan(rotation.position);
    otherAuditor = (await svc.service.context.access.issue({ subject: 'other-auditor', role: 'auditor', ttlSeconds: 3600, issuedBy: 'test' })).token;
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('carries no event of a pseudonym to an operator or an auditor without a resolution, and every other event', async () => {
    const all = await readAll();
    for (const role of ['operator', 'auditor'] as const) {
      const s = await streamUntil(svc.tokens[role], '/v1/events?from=start', after.position);
      try {
        expect(namesTheNode(s), role).toEqual([]);
        expect(s.events().map((e) => e.id.split('~')[0]), role).toEqual(all.filter((e) => !isPseudonyms(e)).map((e) => e.position.toString(10)));
      } finally {
        s.close();
      }
    }
  });

  it('resumes after the event before a left-out one and from its bare position; a tagged id there is refused whatever its tag', async () => {
    const before = await streamUntil(svc.tokens.operator, '/v1/events', after.position, { 'last-event-id': `${registration.position}~${hash('sha256', registration.id, 'hex').slice(0, 8)}` });
    try {
      expect(before.events().map((e) => e.id.split('~')[0])[0]).toBe(after.position.toString(10));
      expect(namesTheNode(before)).toEqual([]);
    } finally {
      before.close();
    }
    // Its bare position resumes, and the stream's opening id names no tag there.
    const s = await streamUntil(svc.tokens.operator, '/v1/events', after.position, { 'last-event-id': rotation.position.toString(10) });
    try {
      const opening = s.frames.find((f) => f.kind === 'id' || f.kind === 'event') as { id: string };
      expect(opening.id).toBe(rotation.position.toString(10));
      expect(s.events()[0]!.id.split('~')[0]).toBe(after.position.toString(10));
    } finally {
      s.close();
    }
    // The rotation's own tag and another alike are answered alike: the answer must not tell whether a guessed event id
    // is the rotation's. No stream gave this operator an id there.
    const tagOfRotation = hash('sha256', rotation.id, 'hex').slice(0, 8);
    const guess = tagOfRotation === '00000000' ? '00000001' : '00000000';
    for (const id of [`${rotation.position}~${tagOfRotation}`, `${rotation.position}~${guess}`]) {
      const refused = await openStream(svc.url, svc.tokens.operator, '/v1/events', { 'last-event-id': id });
      refused.close();
      expect(refused.status, id).toBe(409);
      expect(refused.problem, id).toMatchObject({ type: expect.stringMatching(/resume_point_not_in_log$/), resumeAfter: rotation.position.toString(10) });
    }
  });

  it('does not name a left-out rotation as where a stream from the end starts', async () => {
    expect((await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: body.registerNode('hidden-meter-9') })).status).toBe(201);
    await settled(svc);
    const all = await readAll();
    expect(all.at(-1)!.type).toBe('PseudonymRotated');
    // It starts after the newest event it tells, named with its tag (review 241).
    const told = all.filter((e) => !isPseudonyms(e)).at(-1)!;
    const s = await openStream(svc.url, svc.tokens.operator, '/v1/events?from=end');
    try {
      await s.until(() => s.frames.some((f) => f.kind === 'id'), 'the opening id');
      expect((s.frames.find((f) => f.kind === 'id') as { id: string }).id).toBe(`${told.position}~${hash('sha256', told.id, 'hex').slice(0, 8)}`);
    } finally {
      s.close();
    }
  });

  it('carries the pseudonym whole to the auditor who recorded its resolution, and to no one else', async () => {
    const resolved = await api.call('POST', '/v1/pseudonyms/resolutions', {}, { token: svc.tokens.auditor, body: { pseudonym, reason: 'case 2026-223' } });
    expect(resolved.status).toBe(200);
    const resolution = (await readAll()).find((e) => e.type === 'PseudonymResolved')!;

    const s = await streamUntil(svc.tokens.auditor, '/v1/events?from=start', resolution.position);
    try {
      const ofPseudonym = s.events().filter((e) => dataOf(e)['streamId'] === `pseudonym-${pseudonym}`).map(dataOf);
      expect(ofPseudonym.map((e) => e['type'])).toEqual(['PseudonymRotated', 'PseudonymResolved']);
      expect(ofPseudonym[0]).toMatchObject({ eventId: rotation.id, data: { nodeId: NODE, epoch: 0 }, metadata: { causationId: registration.id } });
      // Another pseudonym, not resolved, stays out.
      expect(s.events().filter((e) => isPseudonyms(dataOf(e) as { streamId: string }) && dataOf(e)['streamId'] !== `pseudonym-${pseudonym}`)).toEqual([]);
    } finally {
      s.close();
    }

    for (const token of [otherAuditor, svc.tokens.operator]) {
      const other = await streamUntil(token, '/v1/events?from=start', after.position);
      try {
        await other.until(() => other.frames.filter((f) => f.kind === 'comment' && f.text === 'heartbeat').length >= 3, 'three heartbeats');
        expect(namesTheNode(other)).toEqual([]);
        expect(other.events().filter((e) => e.data.includes('case 2026-223'))).toEqual([]);
      } finally {
        other.close();
      }
    }
  });

  it("refuses an operator's filter of a pseudonym's kind, type or stream (it would stay silent), and serves an auditor's", async () => {
    for (const [query, path] of [
      ['kind=pseudonym', 'query.kind.0'],
      ['type=NodeRegistered,PseudonymRotated', 'query.type.1'],
      [`stream=pseudonym-${pseudonym}`, 'query.stream.0'],
    ] as const) {
      const refused = await openStream(svc.url, svc.tokens.operator, `/v1/events?${query}`);
      refused.close();
      expect(refused.status, query).toBe(400);
      expect(refused.problem!['errors'], query).toEqual([expect.objectContaining({ path, rule: 'not_told' })]);
      const served = await openStream(svc.url, svc.tokens.auditor, `/v1/events?${query}`);
      served.close();
      expect(served.status, query).toBe(200);
    }
  });

  it('carries a resolution recorded while the stream is open, and what follows of that pseudonym', async () => {
    const second = (await readAll()).find((e) => e.type === 'PseudonymRotated' && e.data['nodeId'] === 'hidden-meter-9')!;
    const s = await openStream(svc.url, svc.tokens.auditor, '/v1/events?from=end');
    try {
      expect(s.status).toBe(200);
      const resolved = await api.call('POST', '/v1/pseudonyms/resolutions', {}, { token: svc.tokens.auditor, body: { pseudonym: second.data['pseudonym'], reason: 'case 2026-224' } });
      expect(resolved.status).toBe(200);
      await s.until(() => s.events().some((e) => e.event === 'PseudonymResolved'), 'the resolution');
    } finally {
      s.close();
    }
  });
});
