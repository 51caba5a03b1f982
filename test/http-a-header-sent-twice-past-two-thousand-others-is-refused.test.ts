import { describe, expect, it } from 'vitest';
import { body } from './http-conformance.fixtures.ts';
import { rawHttpSocket, until } from './support/raw-http-socket.ts';
import { useTestService } from './support/service.ts';

/*
 * Review 175 (SER-001): Node keeps the first 2,000 headers of a request (maxHeadersCount) and drops the rest from both
 * `headers` and `rawHeaders`, so the check for a header sent twice (review 135) never saw a second Authorization sent
 * after 2,000 others: `Bearer <admin>`, 2,000 junk headers (some 12 KB, under the 16 KiB limit), `Bearer <auditor>`
 * read /v1/tokens as the admin. Every header is now kept (the 16 KiB limit still bounds them) and the request refused.
 */

const svc = useTestService({ config: { probePort: 0 } });

const JUNK = Array.from({ length: 2_000 }, () => 'a: 1');

/** Sends `head` on a fresh connection; the status line of the answer, once the server has closed it. */
const statusOf = async (url: string, head: readonly string[], content = ''): Promise<{ status: number; text: string }> => {
  const raw = await rawHttpSocket(url);
  raw.socket.write(`${[...head, 'Connection: close'].join('\r\n')}\r\n\r\n${content}`);
  await raw.closedWithin(10_000);
  await until(() => raw.received().length > 0, 1_000);
  const text = raw.received();
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]), text };
};

describe('a header sent twice with 2,000 others between', () => {
  it('two Authorization headers are refused 400 malformed_request: the first token does not act', async () => {
    const { status, text } = await statusOf(svc.url, [
      'GET /v1/tokens HTTP/1.1',
      'Host: 127.0.0.1',
      `Authorization: Bearer ${svc.tokens.admin}`,
      ...JUNK,
      `Authorization: Bearer ${svc.tokens.auditor}`,
    ]);
    expect(status).toBe(400);
    expect(text).toContain('malformed_request');
    expect(text).toContain('authorization');
    expect(text).not.toContain(svc.tokens.admin);
  });

  it('two Content-Type headers are refused as well: the body is not read as the first one says', async () => {
    const command = JSON.stringify(body.createSubscription('sub-past-2000'));
    const { status, text } = await statusOf(
      svc.url,
      [
      'POST /v1/commands HTTP/1.1',
      'Host: 127.0.0.1',
      `Authorization: Bearer ${svc.tokens.operator}`,
      'Content-Type: application/json',
      ...JUNK,
      'Content-Type: text/plain',
      `Content-Length: ${Buffer.byteLength(command)}`,
      ],
      command,
    );
    expect(status).toBe(400);
    expect(text).toContain('content-type');
    const stream = await fetch(new URL('/v1/entities/subscription/sub-past-2000', svc.url), { headers: { authorization: `Bearer ${svc.tokens.operator}` } });
    expect(stream.status).toBe(404);
  });

  it('two Host headers are refused on the probe port too', async () => {
    const { status, text } = await statusOf(svc.service.probeUrl!, ['GET /healthz HTTP/1.1', 'Host: 127.0.0.1', ...JUNK, 'Host: example.com']);
    expect(status).toBe(400);
    expect(text).toContain('malformed_request');
  });
});
