import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as pkijs from 'pkijs';
import { afterEach, describe, expect, it } from 'vitest';
import { DAY, FakeClock } from '../adapters/driven/clock/index.ts';
import { createRootCa } from '../adapters/driven/pki/index.ts';
import { openDataFolderSecureEnvironment, systemRandom } from '../adapters/runtime/index.ts';
import { ownerView } from '../domain/ports/index.ts';
import { certificateToIssue } from '../adapters/protocols/enrolment/certificate-issuance.ts';
import { toBase64url } from '../domain/crypto/index.ts';
import { buildCertificationRequest, issuingCaFor, nodeSubject, nodeUris } from '../domain/x509/issuance/index.ts';
import { ocspRequest, ocspStatus } from './support/ocsp-client.ts';
import { pkiOf, testLeaf, testSigner } from './support/pki-test-ca.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 82, finding 1: a CA whose chain had ended (its certificate, or one above it, past notAfter) made
 * OcspSigningKey.open throw at every start ("no OCSP responder certificate can be issued under it"), so one retired
 * CA stopped the whole service for every other CA. It is now retired: the service starts, the other CAs serve, the
 * ended CA's OCSP answers `unauthorized` (RFC 6960 2.3), its CRL URL refuses naming when it ended, and the start warns
 * once, naming it.
 */
const SUB = 'sub-1';

/** A data folder with CA `default` (10 years from `now`) and CA `sub-1` (2 days from `subFrom`). */
const folderWithTwoCas = async (now: Date, subFrom: Date): Promise<string> => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-ca-ended-'));
  const se = openDataFolderSecureEnvironment(dir, { now: () => now });
  try {
    const infra = ownerView(se, 'maf:infrastructure');
    await createRootCa({ dataDir: dir, se: infra, id: 'default', kind: 'p256', now, random: systemRandom });
    await createRootCa({ dataDir: dir, se: infra, id: SUB, kind: 'p256', now: subFrom, random: systemRandom, validityDays: 2 });
  } finally {
    se.close();
  }
  return dir;
};

const post = (svc: TestService, caId: string, body: Uint8Array): Promise<Response> =>
  fetch(`${svc.url}/pki/${caId}/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: Buffer.from(body) });

/** The OCSPResponseStatus (RFC 6960 4.2.1) and whether it is signed (responseBytes present). */
const statusOf = async (reply: Response): Promise<{ status: number; signed: boolean; der: Uint8Array }> => {
  const der = new Uint8Array(await reply.arrayBuffer());
  const response = pkijs.OCSPResponse.fromBER(der);
  return { status: response.responseStatus.valueBlock.valueDec, signed: response.responseBytes !== undefined, der };
};

const endedWarnings = (svc: TestService) =>
  svc
    .logs()
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.level === 40 && line.caId === SUB && typeof line.endedAt === 'string');

/** Every key handle the folder's CA and OCSP signer files name: none may appear in a log line. */
const keyHandlesOf = (dir: string): string[] =>
  readdirSync(join(dir, 'pki'))
    .filter((f) => f.endsWith('.json'))
    .flatMap((f) => [...readFileSync(join(dir, 'pki', f), 'utf8').matchAll(/"(?:keyHandle)": "([^"]+)"/g)].map((m) => m[1]!));

/** Given a service with the ended CA `sub-1` beside the live `default`: what each CA's URLs answer. */
const expectRetiredBesideLive = async (svc: TestService, clock: FakeClock): Promise<void> => {
  const pki = pkiOf(svc);
  const live = pki.cas.find((c) => c.id === 'default')!;
  const ended = pki.cas.find((c) => c.id === SUB)!;
  const now = clock.now().getTime();

  // The live CA: its CRL and its OCSP answer (a serial it never issued is `unknown`, signed).
  const crl = await fetch(`${svc.url}/pki/default/crl`);
  expect(crl.status).toBe(200);
  expect(crl.headers.get('content-type')).toBe('application/pkix-crl');
  const liveAnswer = await statusOf(await post(svc, 'default', await ocspRequest(await testLeaf(live, { baseUrl: svc.url, name: 'stranger', now }), live)));
  expect(liveAnswer).toMatchObject({ status: 0, signed: true });
  expect(ocspStatus(liveAnswer.der)).toBe('unknown');

  // The ended CA: OCSP answers unsigned `unauthorized` (6), POST and GET, never a JSON problem.
  const request = await ocspRequest(await testLeaf(ended, { baseUrl: svc.url, name: 'late', now: now - 3 * DAY, validityMs: DAY }), ended);
  for (const reply of [await post(svc, SUB, request), await fetch(`${svc.url}/pki/${SUB}/ocsp/${encodeURIComponent(Buffer.from(request).toString('base64'))}`)]) {
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toBe('application/ocsp-response');
    expect(reply.headers.get('cache-control')).toBe('no-store');
    expect(await statusOf(reply)).toMatchObject({ status: 6, signed: false });
  }

  // Its CRL URL refuses, naming when it ended.
  const endedCrl = await fetch(`${svc.url}/pki/${SUB}/crl`);
  expect(endedCrl.status).toBe(410);
  expect(await endedCrl.json()).toMatchObject({ type: expect.stringMatching(/\/ca_ended$/), status: 410, caId: SUB, endedAt: expect.any(String) });
  expect(endedCrl.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect((await fetch(`${svc.url}/pki/${SUB}/delta-crl`)).status).toBe(410);
  // Its certificates stay published: a relying party may still need them to read what it signed before.
  expect((await fetch(`${svc.url}/pki/${SUB}/ca.crt`)).status).toBe(200);
};

describe('a CA whose chain has ended beside a live CA', () => {
  let svc: TestService | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await svc?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    svc = undefined;
    dir = undefined;
  });

  it('is retired across a restart: the service starts again, warns once naming it, and the live CA serves', async () => {
    const clock = new FakeClock(new Date());
    dir = await folderWithTwoCas(clock.now(), clock.now());
    svc = await startTestService({ dir, clock });
    expect(endedWarnings(svc)).toHaveLength(0);

    clock.advance(3 * DAY);
    await svc.restart();

    const warnings = endedWarnings(svc);
    expect(warnings).toHaveLength(1);
    const endedAt = new Date(pkijs.Certificate.fromBER(Uint8Array.from(pkiOf(svc).cas.find((c) => c.id === SUB)!.certificate)).notAfter.value).toISOString();
    expect(warnings[0]!.endedAt).toBe(endedAt);
    expect(String(warnings[0]!.msg)).toContain(SUB);
    for (const handle of keyHandlesOf(dir)) expect(svc.logs().join('\n')).not.toContain(handle);
    await expectRetiredBesideLive(svc, clock);
  }, 60_000);

  it('is retired on a fresh folder where it was made already ended: no responder certificate is issued for it', async () => {
    const clock = new FakeClock(new Date());
    dir = await folderWithTwoCas(clock.now(), new Date(clock.now().getTime() - 3 * DAY));
    svc = await startTestService({ dir, clock });

    expect(endedWarnings(svc)).toHaveLength(1);
    expect(readdirSync(join(dir, 'pki'))).not.toContain(`${SUB}.ocsp.json`);
    expect(readdirSync(join(dir, 'pki'))).toContain('default.ocsp.json');
    for (const handle of keyHandlesOf(dir)) expect(svc.logs().join('\n')).not.toContain(handle);
    await expectRetiredBesideLive(svc, clock);
  }, 60_000);

  it('is retired when it ends while the service runs: answered at once, warned of once at the next tick, no failure logged', async () => {
    const clock = new FakeClock(new Date());
    dir = await folderWithTwoCas(clock.now(), clock.now());
    svc = await startTestService({ dir, clock });
    const ended = pkiOf(svc).cas.find((c) => c.id === SUB)!;
    const request = await ocspRequest(await testLeaf(ended, { baseUrl: svc.url, name: 'late', validityMs: DAY }), ended);
    expect(await statusOf(await post(svc, SUB, request))).toMatchObject({ status: 0, signed: true });
    expect((await fetch(`${svc.url}/pki/${SUB}/crl`)).status).toBe(200);

    clock.advance(3 * DAY);
    // Before any tick: nothing is signed under it any more.
    expect(await statusOf(await post(svc, SUB, request))).toMatchObject({ status: 6, signed: false });
    expect((await fetch(`${svc.url}/pki/${SUB}/crl`)).status).toBe(410);
    await pkiOf(svc).tick();
    await pkiOf(svc).tick();
    expect(endedWarnings(svc)).toHaveLength(1);
    expect(svc.logs().filter((l) => l.includes('PKI revocation failed'))).toEqual([]);
    await expectRetiredBesideLive(svc, clock);
  }, 60_000);

  it('is never picked for a new certificate: a node of its subscription is refused at the receipt, not moved to another CA', async () => {
    const clock = new FakeClock(new Date());
    dir = await folderWithTwoCas(clock.now(), new Date(clock.now().getTime() - 3 * DAY));
    svc = await startTestService({ dir, clock });
    const cas = pkiOf(svc).cas;
    const node = { nodeId: 'meter-late', cseId: '/cse-meter-late' };
    const key = testSigner('p256');
    const csr = await buildCertificationRequest({ key: { kind: 'p256', bytes: key.publicKey }, subject: nodeSubject(node.nodeId).name, uris: nodeUris(node), sign: key.sign });
    const now = Math.floor(clock.now().getTime() / 1000) * 1000;
    const toIssue = certificateToIssue({ issuingCa: (p) => issuingCaFor(cas, p.m2mSubId), baseUrl: () => svc!.url }, systemRandom, {
      csr: toBase64url(csr),
      credentialKey: { kind: 'p256', bytes: key.publicKey },
      nodeId: node.nodeId,
      serviceParameters: { cseId: node.cseId, m2mSubId: SUB },
      validity: { notBefore: new Date(now).toISOString(), notAfter: new Date(now + DAY).toISOString() },
    });
    expect(toIssue?.issuingCa).toBe(SUB);
    await expect(toIssue!.issue()).rejects.toMatchObject({ problem: { code: 'protocol', reason: 'certificate_not_issued', message: expect.stringContaining(`CA ${SUB}: ca_expires_first`) } });
  }, 60_000);
});
