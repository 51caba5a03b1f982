import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { RouteModule } from '../adapters/http/context.ts';
import {
  badSignature,
  concurrencyConflict,
  CredenceError,
  illegalTransition,
  notFound,
  protocolError,
  unauthorised,
  validationError,
} from '../domain/errors.ts';
import { MAX_PATH_PARAM_CHARS } from '../adapters/http/server.ts';
import { startTestService, type TestService } from './support/service.ts';
import { body } from './http-conformance.fixtures.ts';

const THROWN = {
  validation: () => validationError([{ path: 'data.nodeId', rule: 'too_small', message: 'too short' }, { path: 'data.reason', rule: 'invalid_value', message: 'unknown reason' }]),
  illegal_transition: () => illegalTransition({ streamId: 'node-meter-3', state: 'revoked', attempted: 'enrolNode', allowed: [] }),
  concurrency_conflict: () => concurrencyConflict('node-meter-3', '4', '5'),
  not_found: () => notFound('credential-x'),
  unauthorised: () => unauthorised('alice', 'auditors cannot revoke'),
  bad_signature: () => badSignature('signature does not verify'),
  protocol: () => protocolError('enrolment.auth', 'transcript mismatch'),
  broken_history: () => new CredenceError({ code: 'broken_history', message: 'stream node-a is broken at 7', streamId: 'node-a', position: '7', reason: 'refused' }),
  unknown: () => new Error('database password is hunter2'),
} as const;

const throwing: RouteModule = (app) => {
  app.get(
    '/test/throw/:code',
    { config: { access: 'public' }, schema: { params: z.object({ code: z.enum(Object.keys(THROWN) as [keyof typeof THROWN]) }) } },
    async (request) => {
      throw THROWN[request.params.code]();
    },
  );
};

describe('refusals as RFC 9457 problem details', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ routes: [throwing] });
  });
  afterAll(async () => {
    await svc?.close();
  });

  const problemOf = async (code: keyof typeof THROWN) => {
    const response = await fetch(`${svc.url}/test/throw/${code}`);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it.each([
    ['validation', 400, { errors: [{ path: 'data.nodeId', rule: 'too_small', message: 'too short' }, { path: 'data.reason', rule: 'invalid_value', message: 'unknown reason' }] }],
    ['illegal_transition', 409, { streamId: 'node-meter-3', state: 'revoked', attempted: 'enrolNode', allowed: [] }],
    ['concurrency_conflict', 409, { streamId: 'node-meter-3', expected: '4', actual: '5' }],
    ['not_found', 404, { streamId: 'credential-x' }],
    ['unauthorised', 403, { reason: 'auditors cannot revoke' }],
    ['bad_signature', 422, { reason: 'signature does not verify' }],
    ['protocol', 422, { step: 'enrolment.auth', reason: 'transcript mismatch' }],
    ['broken_history', 500, { streamId: 'node-a', position: '7' }],
  ] as const)('%s -> %i with its details', async (code, status, extensions) => {
    const { status: got, body } = await problemOf(code);
    expect(got).toBe(status);
    expect(body).toMatchObject({ type: `https://credence.dev/problems/${code}`, status, title: expect.any(String), detail: expect.any(String), instance: `/test/throw/${code}`, ...extensions });
  });

  it('an unexpected error is a 500 whose detail says nothing of it', async () => {
    const { status, body } = await problemOf('unknown');
    expect(status).toBe(500);
    expect(JSON.stringify(body)).not.toContain('hunter2');
    expect(body).toMatchObject({ type: 'https://credence.dev/problems/internal', requestId: expect.any(String) });
  });

  it('a bad path parameter is a 400 naming params.<name>', async () => {
    const response = await fetch(`${svc.url}/test/throw/nonsense`);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ errors: [{ path: 'params.code' }] });
  });
});

// Issue 12 review: the router refused before any route ran, in Fastify's own JSON that quoted the path: a path
// parameter over 100 characters was a 414 (so a node with a 128-character id, which POST /v1/commands accepts,
// could not be read back), and a malformed percent-escape a 400 echoing the path.
describe('refusals of the router itself: problem+json, never quoting the path', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc?.close();
  });

  const MARKER = 'reflected-marker';

  it('reads back a node whose id has the longest length the domain allows (128 characters)', async () => {
    const nodeId = `n${'x'.repeat(126)}9`;
    expect(nodeId).toHaveLength(128);
    const created = await fetch(`${svc.url}/v1/commands`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${svc.tokens.operator}` },
      body: JSON.stringify(body.registerNode(nodeId)),
    });
    expect(created.status).toBe(201);
    for (const path of [`/v1/entities/node/${nodeId}`, `/v1/entities/node/${nodeId}/timeline`]) {
      const read = await fetch(`${svc.url}${path}`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
      expect({ path, status: read.status }).toEqual({ path, status: 200 });
    }
  });

  it('answers a malformed percent-escape with a 400 problem that does not echo the path', async () => {
    const response = await fetch(`${svc.url}/v1/entities/node/${MARKER}%E0%A4%A`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(response.headers.get('x-request-id')).toMatch(/\S+/);
    const text = await response.text();
    expect(text).not.toContain(MARKER);
    expect(text).not.toMatch(/%E0|entities/i);
    expect(JSON.parse(text)).toMatchObject({ type: 'https://credence.dev/problems/validation', status: 400, errors: [{ path: 'url', rule: 'url_encoding' }] });
  });

  it('answers a path parameter longer than any identifier with a 414 problem that does not echo it', async () => {
    const response = await fetch(`${svc.url}/v1/entities/node/${MARKER}${'y'.repeat(MAX_PATH_PARAM_CHARS)}`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    expect(response.status).toBe(414);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    const text = await response.text();
    expect(text).not.toContain(MARKER);
    expect(JSON.parse(text)).toMatchObject({ type: 'https://credence.dev/problems/uri_too_long', status: 414, requestId: expect.any(String) });
    // Review 219: its instance writes the segment too long [redacted] (test/http-a-uri-too-long-answer-names-its-path-with-the-long-segment-redacted.test.ts).
    expect(JSON.parse(text)).toMatchObject({ instance: '/v1/entities/node/[redacted]' });
  });

  it('routes a parameter of exactly the router limit to its route, which answers for itself', async () => {
    const response = await fetch(`${svc.url}/v1/entities/node/${'z'.repeat(MAX_PATH_PARAM_CHARS)}`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    expect(response.status).not.toBe(414);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
  });
});
