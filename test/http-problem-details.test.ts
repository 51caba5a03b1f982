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
import { startTestService, type TestService } from './support/service.ts';

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
