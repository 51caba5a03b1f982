import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as pkijs from 'pkijs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRootCa } from '../adapters/driven/pki/index.ts';
import { openDataFolderSecureEnvironment, systemRandom } from '../adapters/runtime/index.ts';
import { ownerView } from '../domain/ports/index.ts';
import { ocspRequest } from './support/ocsp-client.ts';
import { issueCertifiedCredential, pkiOf } from './support/pki-test-ca.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 82 (left over): OCSP clients turned away by the rate limit or load shedding get the unsigned `tryLater` (HTTP
 * 200, application/ocsp-response; routes/ocsp-try-later.ts), but the OpenAPI document still declared the JSON 429 and
 * 503 on the OCSP routes. The GET, always an OCSP client's, now declares the answers it gives and no other; the POST
 * keeps its 429 and 503 for a POST of another type, which is what gets them, and says so.
 */
interface Answer {
  description: string;
  headers?: Record<string, unknown>;
  content?: Record<string, unknown>;
}
type Doc = { paths: Record<string, Record<string, { responses: Record<string, Answer> }>> };

const PER_ADDRESS = 4;
const GET = '/pki/{caId}/ocsp/{request}';
const POST = '/pki/{caId}/ocsp';
const TRY_LATER = 3;

describe('the OpenAPI document of the OCSP routes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-ocsp-openapi-'));
  let svc: TestService;
  let doc: Doc;
  let der: Uint8Array;
  beforeAll(async () => {
    const se = openDataFolderSecureEnvironment(dir, { now: () => new Date() });
    try {
      await createRootCa({ dataDir: dir, se: ownerView(se, 'maf:infrastructure'), id: 'default', kind: 'p256', now: new Date(), random: systemRandom });
    } finally {
      se.close();
    }
    svc = await startTestService({ dir, config: { limits: { rateLimitPerAddress: PER_ADDRESS } } });
    doc = (await (await fetch(`${svc.url}/openapi.json`)).json()) as Doc;
    der = await ocspRequest(await issueCertifiedCredential(svc, 'cred-ocsp-openapi'), pkiOf(svc).cas[0]!);
  }, 60_000);
  afterAll(async () => {
    await svc?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const declared = (path: string, method: string): Record<string, Answer> => doc.paths[path]![method]!.responses;
  const getPath = () => `/pki/default/ocsp/${encodeURIComponent(Buffer.from(der).toString('base64'))}`;
  const expectDeclared = (path: string, method: string, status: number): void => {
    expect(Object.keys(declared(path, method)), `${method.toUpperCase()} ${path} declares ${status}`).toContain(String(status));
  };
  const statusOf = async (reply: Response): Promise<number> => pkijs.OCSPResponse.fromBER(new Uint8Array(await reply.arrayBuffer())).responseStatus.valueBlock.valueDec;

  it('lists for the GET exactly what it answers: OCSPResponses, 304, a 413 for a body, the catch-alls; no 429 or 503', () => {
    expect(Object.keys(declared(GET, 'get')).sort()).toEqual(['200', '304', '413', '4XX', '5XX']);
    expect(Object.keys(declared(GET, 'get')['200']!.headers ?? {})).toContain('retry-after');
  });

  it('lists for the POST its 429 and 503 as answers to a POST of another type only, tryLater for an OCSP client', () => {
    const answers = declared(POST, 'post');
    expect(Object.keys(answers).sort()).toEqual(['200', '413', '415', '429', '4XX', '503', '5XX']);
    for (const status of ['429', '503']) expect(answers[status]!.description, status).toMatch(/^to a POST of another type than `application\/ocsp-request` only/);
    expect(answers['200']!.description).toMatch(/tryLater, the last also for a request the rate limit or load shedding turned away/);
    expect(Object.keys(answers['200']!.headers ?? {})).toContain('retry-after');
  });

  it('answers each status it declares, and over the rate limit a GET and an OCSP POST tryLater (200), a JSON POST 429', async () => {
    // A GET whose body is declared past the limit: 413, before the rate limit is reached.
    const tooLarge = await new Promise<number>((resolve, reject) => {
      const url = new URL(svc.url);
      const sent = httpRequest({ host: url.hostname, port: url.port, method: 'GET', path: getPath(), headers: { 'content-length': String(64 * 1024 * 1024) } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      sent.on('error', reject);
      sent.end();
    });
    expect(tooLarge).toBe(413);
    expectDeclared(GET, 'get', tooLarge);
    const good = await fetch(`${svc.url}${getPath()}`);
    expect(good.status).toBe(200);
    expect(await statusOf(good)).toBe(0);
    const again = await fetch(`${svc.url}${getPath()}`, { headers: { 'if-none-match': good.headers.get('etag')! } });
    expect(again.status).toBe(304);
    expectDeclared(GET, 'get', 304);

    // Past the limit (the document's fetch and the requests above counted): GET and POST of an OCSP client, tryLater.
    let limited: Response | undefined;
    for (let i = 0; i <= PER_ADDRESS && limited === undefined; i++) {
      const reply = await fetch(`${svc.url}${getPath()}`);
      expect(reply.status).toBe(200);
      expectDeclared(GET, 'get', reply.status);
      if ((await statusOf(reply)) === TRY_LATER) limited = reply;
    }
    expect(limited?.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
    const ocspPost = await fetch(`${svc.url}/pki/default/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: Buffer.from(der) });
    expect(ocspPost.status).toBe(200);
    expect(await statusOf(ocspPost)).toBe(TRY_LATER);
    const jsonPost = await fetch(`${svc.url}/pki/default/ocsp`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    await jsonPost.arrayBuffer();
    expect(jsonPost.status).toBe(429);
    expectDeclared(POST, 'post', 429);
  });
});
