import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { MAX_OCSP_REQUEST_BYTES } from '../domain/x509/revocation/index.ts';
import { useTestService } from './support/service.ts';

/*
 * Review 148: the 16 KiB limit of an OCSP POST was set on its content-type parser only; the route kept the server's
 * 1 MiB bodyLimit, which the 413 quoted, and a declared Content-Length between the two was read before the refusal.
 */

const svc = useTestService();

/** POSTs `size` bytes of application/ocsp-request, with a Content-Length or chunked; the status, type and body. */
const post = (size: number, framing: 'length' | 'chunked'): Promise<{ status: number; type: string | undefined; text: string }> =>
  new Promise((resolve, reject) => {
    const url = new URL(`${svc.url}/pki/default/ocsp`);
    const body = Buffer.alloc(size, 0x30);
    const headers: Record<string, string> = { 'content-type': 'application/ocsp-request' };
    if (framing === 'length') headers['content-length'] = String(size);
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, type: res.headers['content-type'], text: Buffer.concat(chunks).toString('latin1') }));
      res.on('error', reject);
    });
    // The server may answer and close before every byte is written: the answer is what is checked.
    req.on('error', () => undefined);
    req.end(body);
  });

describe('an OCSP POST over 16 KiB', () => {
  it.each(['length', 'chunked'] as const)('is 413 naming the route limit of 16384 bytes (%s)', async (framing) => {
    const answer = await post(MAX_OCSP_REQUEST_BYTES + 1, framing);
    expect(answer.status).toBe(413);
    expect(answer.type).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(answer.text)).toMatchObject({
      type: 'https://credence.dev/problems/payload_too_large',
      detail: 'the request body is larger than the 16384 bytes this route accepts',
    });
  });

  it.each(['length', 'chunked'] as const)('is read at 16384 bytes (%s): an OCSPResponse', async (framing) => {
    const answer = await post(MAX_OCSP_REQUEST_BYTES, framing);
    expect(answer.status).toBe(200);
    expect(answer.type).toBe('application/ocsp-response');
  });
});
