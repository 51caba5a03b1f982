import * as pkijs from 'pkijs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { OcspSigningKey } from '../adapters/driven/pki/ocsp-signing-key.ts';
import { memoryPublishedRevocations } from '../adapters/driven/pki/published-revocations.ts';
import { openCredence, systemClock, type Credence } from '../adapters/runtime/index.ts';
import { openCommittedReadModel } from '../adapters/runtime/pki-committed.ts';
import { OcspResponder } from '../adapters/runtime/pki-ocsp-responder.ts';
import { PublishedLedger } from '../adapters/runtime/pki-published.ts';
import { ocspRequest, ocspStatus } from './support/ocsp-client.ts';
import { PKI_TEST_URL } from './support/pki-instance.ts';
import { issueCertifiedCredential, issueCertifiedCredentialWith, pkiOf, startPkiService, testCa, testLeaf, testResponder } from './support/pki-test-ca.ts';
import type { TestService } from './support/service.ts';

/*
 * Review 276: while the OCSP responder's signatures failed (the Secure Environment's `sign` throwing: a token
 * removed), every OCSP request logged `PKI revocation failed` at error with a whole stack (~860 bytes a request, driven
 * by any relying party up to the per-address rate limit), and no metric counted the `internalError` answers. A failure
 * is now said once per run of them (the first; the run ends when an answer is signed again), and every answer the
 * OCSP routes send is counted by CA and responseStatus (credence_ocsp_answers_total).
 */

const TOKEN_REMOVED = 'CKR_TOKEN_NOT_PRESENT: the token was removed';

describe('an OCSP responder whose signatures fail', () => {
  let opened: Credence;
  beforeAll(() => {
    opened = openCredence({ location: { memory: true }, clock: systemClock });
  });
  afterAll(() => opened.close());

  it('reports the first failure of a run only, a cached answer ending no run, and the next run once signing recovered', async () => {
    const ca = await testCa('signing', 'p256');
    const recorded = await issueCertifiedCredentialWith(opened, ca, PKI_TEST_URL, 'cred-signed');
    await opened.settle();
    // Never recorded: answered `unknown`, which is never cached, so every request about it is signed afresh.
    const stranger = await testLeaf(ca, { baseUrl: PKI_TEST_URL, name: 'meter-stranger' });
    const credential = await testResponder(ca);
    let removed = false;
    const errors: unknown[] = [];
    const reads = openCommittedReadModel(opened.readModels);
    const responder = new OcspResponder({
      reads,
      ca,
      published: new PublishedLedger(memoryPublishedRevocations()),
      credential: () => ({ ...credential, sign: (tbs) => (removed ? Promise.reject(new Error(TOKEN_REMOVED)) : credential.sign(tbs)) }),
      now: () => Date.now(),
      onError: (error) => errors.push(error),
    });
    try {
      const aboutRecorded = await ocspRequest(recorded, ca);
      const aboutStranger = await ocspRequest(stranger, ca);
      // Signed and cached while the token is in.
      expect(ocspStatus((await responder.respond(aboutRecorded)).der)).toBe('good');

      removed = true;
      for (let i = 0; i < 5; i++) expect((await responder.respond(aboutStranger)).outcome).toBe('internalError');
      expect(errors).toHaveLength(1);
      expect((errors[0] as Error).message).toBe(TOKEN_REMOVED);
      // Served from the cache, signing nothing: the run goes on.
      expect((await responder.respond(aboutRecorded)).outcome).toBe('successful');
      expect((await responder.respond(aboutStranger)).outcome).toBe('internalError');
      expect(errors).toHaveLength(1);

      // The token is back: an answer is signed, the run is over...
      removed = false;
      expect(ocspStatus((await responder.respond(aboutStranger)).der)).toBe('unknown');
      // ...and the next failure begins a run of its own, said once again.
      removed = true;
      for (let i = 0; i < 3; i++) expect((await responder.respond(aboutStranger)).outcome).toBe('internalError');
      expect(errors).toHaveLength(2);
    } finally {
      reads.close();
    }
  }, 60_000);
});

const statusOf = (der: Uint8Array): number => pkijs.OCSPResponse.fromBER(Uint8Array.from(der)).responseStatus.valueBlock.valueDec;
const INTERNAL_ERROR = 2;

describe('the service while its OCSP signing key cannot sign', () => {
  let svc: TestService;
  let request: Uint8Array;
  let removed = false;
  beforeAll(async () => {
    // The token removed: the signer the responder asks for throws at every signature, as the Secure Environment's does.
    const current = Object.getOwnPropertyDescriptor(OcspSigningKey.prototype, 'current')!.get!;
    vi.spyOn(OcspSigningKey.prototype, 'current', 'get').mockImplementation(function (this: OcspSigningKey) {
      const credential = current.call(this);
      return { ...credential, sign: (tbs: Uint8Array) => (removed ? Promise.reject(new Error(TOKEN_REMOVED)) : credential.sign(tbs)) };
    });
    svc = await startPkiService();
    const stranger = await testLeaf(pkiOf(svc).cas[0]!, { baseUrl: svc.url, name: 'meter-stranger' });
    request = await ocspRequest(stranger, pkiOf(svc).cas[0]!);
  }, 60_000);
  afterAll(async () => {
    vi.restoreAllMocks();
    await svc?.close();
  });
  afterEach(() => {
    removed = false;
  });

  const post = async (caId = 'default'): Promise<number> => {
    const reply = await fetch(`${svc.url}/pki/${caId}/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: Buffer.from(request) });
    expect(reply.status).toBe(200);
    return statusOf(new Uint8Array(await reply.arrayBuffer()));
  };
  const failures = (): string[] => svc.logs().filter((line) => line.includes('PKI revocation failed'));
  const answers = async (): Promise<string[]> =>
    (await (await fetch(`${svc.url}/metrics`)).text()).split('\n').filter((line) => line.startsWith('credence_ocsp_answers_total{'));

  it('logs the failure once per run of them, and counts every internalError answer', async () => {
    removed = true;
    for (let i = 0; i < 4; i++) expect(await post()).toBe(INTERNAL_ERROR);
    expect(failures()).toHaveLength(1);
    expect(failures()[0]).toContain('"component":"ocsp:default"');

    removed = false;
    expect(await post()).toBe(0);
    removed = true;
    for (let i = 0; i < 2; i++) expect(await post()).toBe(INTERNAL_ERROR);
    expect(failures()).toHaveLength(2);

    expect(await answers()).toEqual(
      expect.arrayContaining(['credence_ocsp_answers_total{ca="default",outcome="internalError"} 6', 'credence_ocsp_answers_total{ca="default",outcome="successful"} 1']),
    );
  });

  it('counts the refusals of the routes too, by CA id only when the CA is configured', async () => {
    const before = await answers();
    const count = (lines: readonly string[], labels: string): number => Number(lines.find((l) => l.startsWith(`credence_ocsp_answers_total{${labels}} `))?.split(' ')[1] ?? 0);
    // No such CA: `unauthorized`, its name no label.
    expect(await post('no-such-ca')).toBe(6);
    // A GET whose path is no request, and one with a query (refused by the route's error handler).
    expect(statusOf(new Uint8Array(await (await fetch(`${svc.url}/pki/default/ocsp/AAAA`)).arrayBuffer()))).toBe(1);
    const base64 = encodeURIComponent(Buffer.from(request).toString('base64'));
    expect(statusOf(new Uint8Array(await (await fetch(`${svc.url}/pki/default/ocsp/${base64}?nonce=1`)).arrayBuffer()))).toBe(1);
    const after = await answers();
    expect(count(after, 'ca="unknown",outcome="unauthorized"') - count(before, 'ca="unknown",outcome="unauthorized"')).toBe(1);
    expect(count(after, 'ca="default",outcome="malformedRequest"') - count(before, 'ca="default",outcome="malformedRequest"')).toBe(2);
    expect(after.join('\n')).not.toContain('no-such-ca');
  });

  it('counts a cacheable answer, under HEAD too, and its 304 as successful', async () => {
    const count = async (): Promise<number> =>
      Number((await answers()).find((l) => l.startsWith('credence_ocsp_answers_total{ca="default",outcome="successful"} '))?.split(' ')[1] ?? 0);
    const leaf = await issueCertifiedCredential(svc, 'cred-cached');
    const url = `${svc.url}/pki/default/ocsp/${encodeURIComponent(Buffer.from(await ocspRequest(leaf, pkiOf(svc).cas[0]!)).toString('base64'))}`;
    const before = await count();
    const first = await fetch(url);
    expect(statusOf(new Uint8Array(await first.arrayBuffer()))).toBe(0);
    const etag = first.headers.get('etag')!;
    expect((await fetch(url, { method: 'HEAD' })).status).toBe(200);
    expect((await fetch(url, { headers: { 'if-none-match': etag } })).status).toBe(304);
    expect((await count()) - before).toBe(3);
  });
});
