import { describe, expect, it } from 'vitest';
import { useTestService } from './support/service.ts';

/*
 * Review 135: the JSON parser is the whole server's, so `POST /pki/{caId}/ocsp` parsed a JSON body: `{}` was answered
 * an OCSP `unauthorized` (200), `{` a JSON 400, where docs/pki.md and docs/service.md say any type but
 * application/ocsp-request is 415, as application/octet-stream was.
 */

const svc = useTestService();

const post = async (contentType: string, body: string) => {
  const answer = await fetch(`${svc.url}/pki/default/ocsp`, { method: 'POST', headers: { 'content-type': contentType }, body });
  return { status: answer.status, type: answer.headers.get('content-type'), text: await answer.text() };
};

describe('POST /pki/{caId}/ocsp with a body that is not application/ocsp-request', () => {
  it.each([
    ['application/json', '{}'],
    ['application/json', '{'],
    ['application/json; charset=utf-8', '{"tbsRequest":{}}'],
    ['application/octet-stream', 'AAAA'],
  ])('%s %j is 415 naming application/ocsp-request, unread', async (contentType, body) => {
    const answer = await post(contentType, body);
    expect(answer.status).toBe(415);
    expect(answer.type).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(answer.text)).toMatchObject({ type: 'https://credence.dev/problems/unsupported_media_type', detail: 'send application/ocsp-request' });
  });

  it('an OCSP request is still answered with an OCSPResponse, its type in any case', async () => {
    const answer = await post('Application/OCSP-Request', '\u0030\u0000');
    expect(answer.status).toBe(200);
    expect(answer.type).toBe('application/ocsp-response');
  });
});
