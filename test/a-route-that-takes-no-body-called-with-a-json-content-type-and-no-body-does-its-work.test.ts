import { describe, expect, it } from 'vitest';
import { useTestService } from './support/service.ts';

/*
 * Review 328: `DELETE /v1/tokens/{id}` sent with `content-type: application/json` and no body (as clients that put the
 * header on every request send it) was `400 the JSON body is empty`, and nothing was revoked; docs/service.md says
 * such routes refuse only a body that was sent. A body sent is still refused (http-cheap-exhaustion-refused.test.ts).
 */
describe('a route that takes no body, called with a JSON content type and no body', () => {
  const svc = useTestService();

  it('revokes the token named, as without the header', async () => {
    const issued = await svc.service.context.access.issue({ subject: 'gone', role: 'auditor', ttlSeconds: 600, issuedBy: 'test' });
    const response = await fetch(`${svc.url}/v1/tokens/${issued.tokenId}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${svc.tokens.admin}`, 'content-type': 'application/json' },
    });
    expect(response.status, await response.text()).toBe(204);
    expect((await fetch(`${svc.url}/v1/entities/counts`, { headers: { authorization: `Bearer ${issued.token}` } })).status).toBe(401);
  });

  it('ends the session of the token it came with', async () => {
    const issued = await svc.service.context.access.issue({ subject: 'leaving', role: 'operator', ttlSeconds: 600, issuedBy: 'test' });
    const response = await fetch(`${svc.url}/v1/session`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${issued.token}`, 'content-type': 'application/json; charset=utf-8' },
    });
    expect(response.status, await response.text()).toBe(204);
    expect((await fetch(`${svc.url}/v1/entities/counts`, { headers: { authorization: `Bearer ${issued.token}` } })).status).toBe(401);
  });

  it('still refuses an empty body where a route takes one', async () => {
    const response = await fetch(`${svc.url}/v1/commands`, {
      method: 'POST',
      headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' },
    });
    expect(response.status).toBe(400);
  });
});
