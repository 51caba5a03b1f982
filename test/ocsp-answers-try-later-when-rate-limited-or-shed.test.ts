import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as pkijs from 'pkijs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRootCa } from '../adapters/driven/pki/index.ts';
import { openDataFolderSecureEnvironment, systemRandom } from '../adapters/runtime/index.ts';
import { ownerView } from '../domain/ports/index.ts';
import type { ServiceConfigInput } from '../adapters/http/config.ts';
import { ocspRequest } from './support/ocsp-client.ts';
import { hasOpenssl, OpenSslDir, pem } from './support/openssl.ts';
import { issueCertifiedCredential, pkiOf } from './support/pki-test-ca.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 82, finding 2: the global rate limit and load shedding answered the OCSP responder's clients with JSON
 * problems (`429`, `503` application/problem+json), whose `instance` echoed a GET's whole base64 request, where an OCSP
 * client reads OCSPResponses only (RFC 6960 2.3: `tryLater` says "come back later"). `openssl ocsp -url` reported
 * `Error querying OCSP responder`. The CRLs, plain HTTP downloads, keep their `429` and `503` with Retry-After.
 */

/** A service whose data folder has a root CA `default` (as `credence ca init` makes it), with `limits`. */
const startPkiServiceWith = async (limits: ServiceConfigInput['limits']): Promise<TestService> => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-ocsp-limits-'));
  const se = openDataFolderSecureEnvironment(dir, { now: () => new Date() });
  try {
    await createRootCa({ dataDir: dir, se: ownerView(se, 'maf:infrastructure'), id: 'default', kind: 'p256', now: new Date(), random: systemRandom });
  } finally {
    se.close();
  }
  const svc = await startTestService({ dir, config: { limits } });
  const close = svc.close.bind(svc);
  return Object.assign(svc, { close: async () => (await close(), rmSync(dir, { recursive: true, force: true })) });
};

const TRY_LATER = 3;
const statusOf = (der: Uint8Array): number => pkijs.OCSPResponse.fromBER(Uint8Array.from(der)).responseStatus.valueBlock.valueDec;

/** An unsigned `tryLater` (RFC 6960 2.3) sent as every OCSP answer is: HTTP 200, `no-store`, with `Retry-After`. */
const expectTryLater = async (reply: Response): Promise<{ der: Uint8Array; retryAfter: number }> => {
  expect(reply.status).toBe(200);
  expect(reply.headers.get('content-type')).toBe('application/ocsp-response');
  expect(reply.headers.get('cache-control')).toBe('no-store');
  expect(reply.headers.get('etag')).toBeNull();
  const der = new Uint8Array(await reply.arrayBuffer());
  expect(statusOf(der)).toBe(TRY_LATER);
  expect(pkijs.OCSPResponse.fromBER(Uint8Array.from(der)).responseBytes).toBeUndefined();
  const retryAfter = reply.headers.get('retry-after');
  expect(retryAfter).toMatch(/^[1-9]\d*$/);
  return { der, retryAfter: Number(retryAfter) };
};

const postOcsp = (svc: TestService, request: Uint8Array) =>
  fetch(`${svc.url}/pki/default/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: Buffer.from(request) });
const getOcsp = (svc: TestService, request: Uint8Array) => fetch(`${svc.url}/pki/default/ocsp/${encodeURIComponent(Buffer.from(request).toString('base64'))}`);

describe('an OCSP request over the rate limit', () => {
  const PER_ADDRESS = 3;
  let svc: TestService;
  let request: Uint8Array;
  const files = new OpenSslDir('credence-ocsp-limited-');
  beforeAll(async () => {
    svc = await startPkiServiceWith({ rateLimitPerAddress: PER_ADDRESS });
    const leaf = await issueCertifiedCredential(svc, 'cred-limited');
    request = await ocspRequest(leaf, pkiOf(svc).cas[0]!);
    files.write('ca.pem', pem('CERTIFICATE', pkiOf(svc).cas[0]!.certificate));
    files.write('device.pem', leaf.pem);
  }, 60_000);
  afterAll(async () => {
    await svc?.close();
    files.remove();
  });

  it('is answered tryLater by POST and GET, with the limiter’s Retry-After, while the CRL keeps its 429', async () => {
    for (let i = 0; i < PER_ADDRESS; i++) {
      const reply = await postOcsp(svc, request);
      expect(reply.status).toBe(200);
      expect(statusOf(new Uint8Array(await reply.arrayBuffer()))).toBe(0);
    }

    const post = await expectTryLater(await postOcsp(svc, request));
    expect(post.retryAfter).toBeLessThanOrEqual(60);
    const base64 = Buffer.from(request).toString('base64');
    const getReply = await getOcsp(svc, request);
    const headers = [...getReply.headers.entries()].map(([name, value]) => `${name}: ${value}`).join('\n');
    const get = await expectTryLater(getReply);
    expect(get.retryAfter).toBeLessThanOrEqual(60);
    // Nothing of the URL: the unsigned error is its status alone.
    expect(get.der.length).toBeLessThan(16);
    expect(headers).not.toContain(base64.slice(0, 24));
    expect(headers).not.toContain(encodeURIComponent(base64).slice(0, 24));

    // A POST of another type is no OCSP client's: it keeps the problem, as its 415 does.
    const json = await fetch(`${svc.url}/pki/default/ocsp`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(json.status).toBe(429);
    expect(json.headers.get('content-type')).toMatch(/^application\/problem\+json/);

    const crl = await fetch(`${svc.url}/pki/default/crl`);
    expect(crl.status).toBe(429);
    expect(crl.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(crl.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
    expect(await crl.json()).toMatchObject({ type: 'https://credence.dev/problems/rate_limited', status: 429, instance: '/pki/default/crl' });

    const metrics = await (await fetch(`${svc.url}/metrics`)).text();
    // The OCSP POST and the JSON one.
    expect(metrics).toMatch(/^credence_http_rate_limited_total\{route="\/pki\/:caId\/ocsp"\} 2$/m);
    expect(metrics).toMatch(/^credence_http_refused_total\{status="429",route="\/pki\/:caId\/ocsp"\} 2$/m);
    expect(metrics).toMatch(/^credence_http_rate_limited_total\{route="\/pki\/:caId\/ocsp\/\*"\} 1$/m);
  });

  it('is logged as an OCSP refusal naming neither the request nor its URL', () => {
    const refusals = svc.logs().filter((line) => line.includes('"OCSP request refused"') && line.includes('"tryLater"'));
    expect(refusals.length).toBeGreaterThanOrEqual(2);
    const base64 = Buffer.from(request).toString('base64');
    for (const line of refusals) {
      expect(line).toContain('rate_limited');
      expect(line).not.toContain(base64.slice(0, 24));
      expect(line).not.toContain(encodeURIComponent(base64).slice(0, 24));
    }
  });

  it.skipIf(!hasOpenssl())('is read by openssl ocsp -url as a responder error tryLater, not a failed query', async () => {
    const asked = await files.run(['ocsp', '-issuer', 'ca.pem', '-cert', 'device.pem', '-url', `${svc.url}/pki/default/ocsp`, '-CAfile', 'ca.pem']);
    expect(`${asked.stdout}${asked.stderr}`).toMatch(/Responder Error: trylater \(3\)/);
    expect(`${asked.stdout}${asked.stderr}`).not.toContain('Error querying OCSP responder');
    files.write('get.resp', (await expectTryLater(await getOcsp(svc, request))).der);
    const read = await files.run(['ocsp', '-respin', 'get.resp', '-resp_text']);
    expect(`${read.stdout}${read.stderr}`).toMatch(/Responder Error: trylater \(3\)/);
  });
});

describe('an OCSP request shed under pressure', () => {
  const RETRY_AFTER = 7;
  let svc: TestService;
  let request: Uint8Array;
  beforeAll(async () => {
    svc = await startPkiServiceWith({ maxHeapUsedBytes: 1, pressureSampleIntervalMs: 10, retryAfterSeconds: RETRY_AFTER });
    const leaf = await issueCertifiedCredential(svc, 'cred-shed');
    request = await ocspRequest(leaf, pkiOf(svc).cas[0]!);
  }, 60_000);
  afterAll(async () => svc?.close());

  /** The first answer once the heap sample says the service is under pressure (the sampler starts after listen). */
  const shedAnswer = async (ask: () => Promise<Response>, isShed: (reply: Response) => Promise<boolean>): Promise<Response> => {
    for (let i = 0; i < 100; i++) {
      const reply = await ask();
      if (await isShed(reply.clone())) return reply;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error('never shed');
  };
  const saysTryLater = async (reply: Response) =>
    reply.headers.get('content-type') === 'application/ocsp-response' && statusOf(new Uint8Array(await reply.arrayBuffer())) === TRY_LATER;
  const is503 = async (reply: Response) => reply.status === 503;

  it('is answered tryLater by POST and GET with the shedding’s Retry-After; the CRL and the API keep their 503', async () => {
    expect((await expectTryLater(await shedAnswer(() => postOcsp(svc, request), saysTryLater))).retryAfter).toBe(RETRY_AFTER);
    expect((await expectTryLater(await getOcsp(svc, request))).retryAfter).toBe(RETRY_AFTER);

    for (const reply of [
      await shedAnswer(() => fetch(`${svc.url}/pki/default/crl`), is503),
      await shedAnswer(() => fetch(`${svc.url}/v1/entities`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } }), is503),
    ]) {
      expect(reply.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(reply.headers.get('retry-after')).toBe(String(RETRY_AFTER));
      expect(await reply.json()).toMatchObject({ type: 'https://credence.dev/problems/overloaded', status: 503 });
    }
  });

  it('is counted among the refusals, as the 503 it stands for', async () => {
    const metrics = await (await fetch(`${svc.url}/metrics`)).text();
    expect(metrics).toMatch(/^credence_http_refused_total\{status="503",route="\/pki\/:caId\/ocsp"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^credence_http_refused_total\{status="503",route="\/pki\/:caId\/ocsp\/\*"\} 1$/m);
  });
});
