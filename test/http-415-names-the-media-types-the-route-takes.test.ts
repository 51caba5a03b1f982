import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 60: every 415 said "send application/json", the OCSP POST's too, whose one body type is
 * application/ocsp-request (RFC 6960 A.1.1). The refusal names the types of the route it came from.
 */
describe('a body of a type the route does not take is refused naming the types it takes', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc?.close();
  });

  const post = async (path: string, contentType: string, token?: string) => {
    const answer = await fetch(`${svc.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': contentType, ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) },
      body: 'AAAA',
    });
    return { status: answer.status, body: (await answer.json()) as { type: string; detail: string } };
  };

  it('answers the OCSP POST: send application/ocsp-request', async () => {
    const { status, body } = await post('/pki/default/ocsp', 'application/octet-stream');
    expect(status).toBe(415);
    expect(body).toMatchObject({ type: 'https://credence.dev/problems/unsupported_media_type', detail: 'send application/ocsp-request' });
  });

  it('answers a JSON route: send application/json, an OCSP request there too', async () => {
    for (const contentType of ['application/octet-stream', 'application/ocsp-request']) {
      const { status, body } = await post('/v1/commands', contentType, svc.tokens.operator);
      expect(status).toBe(415);
      expect(body.detail).toBe('send application/json');
    }
  });
});
