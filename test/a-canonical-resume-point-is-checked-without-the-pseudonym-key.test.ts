import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openStream } from './http-sse.fixtures.ts';
import { cmd } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 189: the check of a tagged resume point (`<position>~<tag>`) derived the pseudonymised stream's tag key (one
 * Secure Environment PRF call) before trying any tag, so with the Secure Environment unreachable an auditor's
 * canonical id, which needs only SHA-256, was answered 500 internal where a bare position was 200: the canonical
 * stream had come to depend on the pseudonym key. The canonical tag is tried first now, the keyed one only when it
 * does not match; and a tag key that cannot be derived is a 503 secure_environment_unavailable with Retry-After,
 * never a 500, for a pseudonymised resume as for the pseudonymised stream's own start.
 */

const TAG_KEY_INPUT = '\0credence/event-tag/v1';

let svc: TestService;
let canonicalIds: string[];
let tagKeyAsked = 0;

const positionOf = (id: string): bigint => BigInt(id.split('~')[0]!);

beforeAll(async () => {
  svc = await startTestService();
  const credence = svc.service.context.credence;
  for (let n = 1; n <= 6; n++) await credence.engine.execute(cmd.registerNode(`meter-${n}`));
  await credence.settle();
  // The Secure Environment cannot be reached for the tag key (before any stream has keyed it); every other
  // derivation answers as before.
  const deriver = credence.pseudonyms!.deriver;
  const derive = deriver.identifier.bind(deriver);
  vi.spyOn(deriver, 'identifier').mockImplementation(async (...args: Parameters<typeof deriver.identifier>) => {
    if (args[1] === TAG_KEY_INPUT) {
      tagKeyAsked += 1;
      throw new Error('the Secure Environment could not be reached');
    }
    return derive(...args);
  });
  const all = await openStream(svc.url, svc.tokens.auditor, '/v1/events?kind=node');
  try {
    await all.until(() => all.events().filter((e) => e.event === 'NodeRegistered').length >= 6, '6 registrations');
    canonicalIds = all.events().map((e) => e.id);
  } finally {
    all.close();
  }
}, 60_000);
afterAll(async () => {
  vi.restoreAllMocks();
  await svc?.close();
});

describe('with the tag key underivable (the Secure Environment unreachable)', () => {
  it("resumes an auditor after its canonical id (200), with the events after it, and never asks for the tag key", async () => {
    const resumeAt = canonicalIds[2]!;
    expect(resumeAt).toMatch(/^[1-9][0-9]*~[0-9a-f]{8}$/);
    const expected = canonicalIds.slice(3);
    const stream = await openStream(svc.url, svc.tokens.auditor, '/v1/events?kind=node', { 'last-event-id': resumeAt });
    try {
      expect(stream.status, JSON.stringify(stream.problem)).toBe(200);
      await stream.until(() => stream.events().length >= expected.length, `${expected.length} events`);
      expect(stream.events().map((e) => e.id)).toEqual(expected);
      expect(stream.events().every((e) => positionOf(e.id) > positionOf(resumeAt))).toBe(true);
    } finally {
      stream.close();
    }
    expect(tagKeyAsked).toBe(0);
  });

  it("answers an integrator's pseudonymised resume 503 secure_environment_unavailable with Retry-After, not 500", async () => {
    const stream = await openStream(svc.url, svc.tokens.integrator, '/v1/events?kind=node', { 'last-event-id': `${positionOf(canonicalIds[2]!)}~0badc0de` });
    stream.close();
    expect(stream.status).toBe(503);
    expect(stream.problem).toMatchObject({ type: expect.stringMatching(/secure_environment_unavailable$/) });
    expect(Number(stream.headers.get('retry-after'))).toBeGreaterThan(0);
    // The cause is the service's log's, not the caller's.
    expect(String(stream.problem!['detail'])).not.toContain('could not be reached');
    expect(svc.logs().some((line) => line.includes('pseudonym_tag_key_unavailable') && line.includes('could not be reached'))).toBe(true);
  });

  it("answers the pseudonymised stream's own start 503 alike, by default and when asked for by name", async () => {
    for (const [token, path] of [
      [svc.tokens.integrator, '/v1/events?kind=node'],
      [svc.tokens.integrator, '/v1/events?kind=node&identifiers=pseudonymous'],
    ] as const) {
      const stream = await openStream(svc.url, token, path);
      stream.close();
      expect(stream.status).toBe(503);
      expect(stream.problem).toMatchObject({ type: expect.stringMatching(/secure_environment_unavailable$/) });
      expect(stream.headers.get('retry-after')).not.toBeNull();
    }
  });

  it('serves the pseudonymised stream once the Secure Environment is back: a failed keying is not kept', async () => {
    vi.restoreAllMocks();
    const stream = await openStream(svc.url, svc.tokens.integrator, '/v1/events?kind=node');
    try {
      expect(stream.status).toBe(200);
    } finally {
      stream.close();
    }
  });
});
