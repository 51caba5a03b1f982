import { request as httpRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as pkijs from 'pkijs';
import { ocspRequest, ocspStatus } from './support/ocsp-client.ts';
import { issueCertifiedCredential, pkiOf, startPkiService } from './support/pki-test-ca.ts';
import type { TestService } from './support/service.ts';

/*
 * Review 92: the service decodes no content coding, yet it read the Content-Encoding header nowhere. A gzip body was
 * refused as `400 body utf8`, which sent its client looking at the wrong thing, and a plain JSON body declared `br`
 * or `x-made-up` was run as if the header were absent (201, an event appended): the service acted on bytes other than
 * those the client said it meant. A body with any coding but `identity` is 415, with `Accept-Encoding: identity`
 * (RFC 9110 15.5.16), before it is read, and nothing is written. An OCSP client, which sends no coding, is answered.
 */
describe('a request body sent with a content coding', () => {
  let svc: TestService;
  let request: Uint8Array;
  beforeAll(async () => {
    svc = await startPkiService('p256');
    const leaf = await issueCertifiedCredential(svc, 'cred-coding');
    request = await ocspRequest(leaf, pkiOf(svc).cas[0]!);
  }, 60_000);
  afterAll(async () => svc?.close());

  const registration = (nodeId: string) =>
    JSON.stringify({ type: 'registerNode', data: { nodeId, profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: [] } } });
  const send = (body: Uint8Array | string, contentEncoding?: string) =>
    fetch(`${svc.url}/v1/commands`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${svc.tokens.operator}`,
        'content-type': 'application/json',
        ...(contentEncoding === undefined ? {} : { 'content-encoding': contentEncoding }),
      },
      body,
    });
  const head = () => svc.service.context.credence.store.headPosition();

  it.each([
    ['gzip, with a gzip body', gzipSync(registration('coded-gzip')), 'gzip'],
    ['br, with a plain body', registration('coded-br'), 'br'],
    ['x-made-up, with a plain body', registration('coded-made-up'), 'x-made-up'],
    ['identity after another coding', registration('coded-listed'), 'gzip, identity'],
  ])('%s, is 415 naming Content-Encoding, answered Accept-Encoding: identity, and nothing is written', async (_what, body, coding) => {
    const before = await head();
    const response = await send(body, coding);
    expect(response.status).toBe(415);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.headers.get('accept-encoding')).toBe('identity');
    const problem = (await response.json()) as { type: string; detail: string };
    expect(problem.type).toBe('https://credence.dev/problems/unsupported_media_type');
    expect(problem.detail).toMatch(/Content-Encoding/);
    expect(await head()).toBe(before);
  });

  it('sent chunked, without a length, is refused as well', async () => {
    const before = await head();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(gzipSync(registration('coded-chunked')));
        controller.close();
      },
    });
    const response = await fetch(`${svc.url}/v1/commands`, {
      method: 'POST',
      headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(415);
    expect(response.headers.get('accept-encoding')).toBe('identity');
    expect(await head()).toBe(before);
  });

  it.each([undefined, 'identity', 'Identity'])('%s is read as sent', async (coding) => {
    const response = await send(registration(`coded-${coding ?? 'none'}`), coding);
    expect(response.status).toBe(201);
  });

  it.each([undefined, 'identity'])('to the OCSP responder, from a client sending %s, is answered with an OCSPResponse', async (coding) => {
    const response = await fetch(`${svc.url}/pki/default/ocsp`, {
      method: 'POST',
      headers: { 'content-type': 'application/ocsp-request', ...(coding === undefined ? {} : { 'content-encoding': coding }) },
      body: Buffer.from(request),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/ocsp-response');
    const der = new Uint8Array(await response.arrayBuffer());
    expect(pkijs.OCSPResponse.fromBER(der).responseStatus.valueBlock.valueDec).toBe(0);
    expect(ocspStatus(der)).toBe('good');
  });

  it.each(['/readyz', '/v1/projections'])('on a GET of %s framed chunked with a coding, which reads no body, is not refused', async (path) => {
    // Review 95: a probe sent `Transfer-Encoding: chunked` and `Content-Encoding: gzip` with no body was 415.
    const status = await new Promise<number>((resolve, reject) => {
      const sent = httpRequest(new URL(path, svc.url), {
        method: 'GET',
        headers: { authorization: `Bearer ${svc.tokens.operator}`, 'transfer-encoding': 'chunked', 'content-encoding': 'gzip' },
      });
      sent.on('response', (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      sent.on('error', reject);
      sent.end();
    });
    expect(status).not.toBe(415);
    expect([200, 503]).toContain(status);
  });
});
