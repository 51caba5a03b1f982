import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as pkijs from 'pkijs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { createRootCa } from '../adapters/driven/pki/index.ts';
import { memoryPublishedRevocations } from '../adapters/driven/pki/published-revocations.ts';
import { openCredence, openDataFolderSecureEnvironment, systemClock, systemRandom, type Credence } from '../adapters/runtime/index.ts';
import { openCommittedReadModel } from '../adapters/runtime/pki-committed.ts';
import { OcspResponder } from '../adapters/runtime/pki-ocsp-responder.ts';
import { PublishedLedger } from '../adapters/runtime/pki-published.ts';
import { ownerView } from '../domain/ports/index.ts';
import { chainValidity } from '../domain/x509/issuance/index.ts';
import type { IssuingCa } from '../domain/x509/issuing-ca.ts';
import { ocspRequest, ocspResponderNotAfter, ocspStatus, ocspTimes } from './support/ocsp-client.ts';
import { PKI_TEST_URL } from './support/pki-instance.ts';
import { issueCertifiedCredentialWith, pkiOf, testCa, testResponder, type TestLeaf } from './support/pki-test-ca.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 124: an OCSP answer said nextUpdate = producedAt + 1 h whatever signed it, so one signed 30 minutes before
 * its CA's chain ended (and its responder certificate with it) was valid, and kept by HTTP caches (Expires), 30
 * minutes past both. A relying party caching until nextUpdate (RFC 5019 6.2) kept an answer whose signer had ended.
 * nextUpdate, Expires and the responder's own cache now end no later than the responder certificate or the CA's chain,
 * as a CRL's do (test/pki-crl-next-update-is-no-later-than-its-ca-ends.test.ts).
 */
const SUB = 'sub-1';
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** The times of a successful answer's first SingleResponse, and the notAfter of the responder certificate it carries. */
const timesOf = (der: Uint8Array) => ({ ...ocspTimes(der), responderNotAfter: ocspResponderNotAfter(der) });

const notAfterOf = (der: Uint8Array): number => pkijs.Certificate.fromBER(Uint8Array.from(der)).notAfter.value.getTime();

describe("an OCSP answer signed shortly before its CA's chain ends", () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-ocsp-clamped-'));
  const clock = new FakeClock(new Date());
  let svc: TestService;
  let endsAt: number;
  let shortLeaf: TestLeaf;
  let longLeaf: TestLeaf;
  beforeAll(async () => {
    const se = openDataFolderSecureEnvironment(dir, { now: () => clock.now() });
    try {
      const infra = ownerView(se, 'maf:infrastructure');
      await createRootCa({ dataDir: dir, se: infra, id: 'default', kind: 'p256', now: clock.now(), random: systemRandom });
      await createRootCa({ dataDir: dir, se: infra, id: SUB, kind: 'p256', now: clock.now(), random: systemRandom, validityDays: 2 });
    } finally {
      se.close();
    }
    svc = await startTestService({ dir, clock });
    const caOf = (id: string): IssuingCa => pkiOf(svc).cas.find((c) => c.id === id)!;
    endsAt = chainValidity(caOf(SUB)).notAfter.getTime();
    const { credence, live } = svc.service.context;
    const short = await issueCertifiedCredentialWith(credence, caOf(SUB), svc.url, 'cred-short', 'meter-1', { validityMs: 3 * DAY });
    const long = await issueCertifiedCredentialWith(credence, caOf('default'), svc.url, 'cred-long', 'meter-1');
    if (!(await live.caughtUp(long.position, 30_000))) throw new Error('the live runtime did not catch up with the issues');
    shortLeaf = short;
    longLeaf = long;
  }, 60_000);
  afterAll(async () => {
    await svc?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const caOf = (id: string): IssuingCa => pkiOf(svc).cas.find((c) => c.id === id)!;

  /** GET (cacheable) the answer about `leaf` of CA `caId`: its times and the Expires caches keep it by. */
  const getAnswer = async (caId: string, leaf: TestLeaf) => {
    const request = encodeURIComponent(Buffer.from(await ocspRequest(leaf, caOf(caId))).toString('base64'));
    const reply = await fetch(`${svc.url}/pki/${caId}/ocsp/${request}`);
    expect(reply.status).toBe(200);
    const der = new Uint8Array(await reply.arrayBuffer());
    expect(ocspStatus(der)).toBe('good');
    expect(reply.headers.get('cache-control')).toBe('public, no-cache');
    return { ...timesOf(der), expires: Date.parse(reply.headers.get('expires')!) };
  };

  it('says nextUpdate, and Expires, no later than the chain and the responder certificate end', async () => {
    // Given the CA's chain (and so its responder certificate) ending in 30 minutes, when an answer is signed now:
    clock.advance(endsAt - 30 * MINUTE - clock.now().getTime());
    const answer = await getAnswer(SUB, shortLeaf);
    // Then it is valid for those 30 minutes, not an hour, and caches keep it no longer.
    expect(answer.producedAt).toBe(Math.floor(clock.now().getTime() / SECOND) * SECOND);
    expect(answer.responderNotAfter).toBeLessThanOrEqual(endsAt);
    expect(answer.nextUpdate).toBe(Math.min(endsAt, answer.responderNotAfter));
    expect(answer.expires).toBe(answer.nextUpdate);
  }, 60_000);

  it('is unchanged for a CA whose chain ends far away: an hour after producedAt', async () => {
    const answer = await getAnswer('default', longLeaf);
    expect(answer.nextUpdate - answer.producedAt).toBe(HOUR);
    expect(answer.expires).toBe(answer.nextUpdate);
    expect(answer.nextUpdate).toBeLessThanOrEqual(answer.responderNotAfter);
  }, 60_000);

  it('within its last second, is valid until the end of that second', async () => {
    clock.advance(endsAt - 400 - clock.now().getTime());
    const answer = await getAnswer(SUB, shortLeaf);
    expect(answer).toMatchObject({ producedAt: endsAt - SECOND, nextUpdate: endsAt, expires: endsAt });
  }, 60_000);

  it('is not signed once the chain has ended, even by a responder asked before: unauthorized, as a retired CA', async () => {
    const responder = pkiOf(svc).ocsp(SUB)!;
    const request = await ocspRequest(shortLeaf, caOf(SUB));
    clock.advance(endsAt - clock.now().getTime());
    const answer = await responder.respond(request);
    expect(answer).toMatchObject({ outcome: 'unauthorized', cacheable: false });
    expect(answer.nextUpdate).toBeUndefined();
  }, 60_000);
});

describe('an OCSP answer signed shortly before its responder certificate ends (not renewed in time)', () => {
  let opened: Credence;
  let ca: IssuingCa;
  let leaf: TestLeaf;
  beforeAll(async () => {
    opened = openCredence({ location: { memory: true }, clock: systemClock });
    ca = await testCa('responder-ending', 'p256');
    leaf = await issueCertifiedCredentialWith(opened, ca, PKI_TEST_URL, 'cred-1');
    await opened.settle();
  }, 60_000);
  afterAll(() => opened.close());

  it('ends with that certificate, is served from the cache no later, and is refused tryLater after it', async () => {
    const reads = openCommittedReadModel(opened.readModels);
    const credential = await testResponder(ca);
    const responderEnds = notAfterOf(credential.certificate);
    const clock = { now: Date.now() };
    const responder = new OcspResponder({
      reads,
      ca,
      published: new PublishedLedger(memoryPublishedRevocations()),
      credential: () => credential,
      now: () => clock.now,
    });
    try {
      const request = await ocspRequest(leaf, ca);
      // Far from its end: an hour, as before.
      const early = await responder.respond(request);
      expect(early.nextUpdate! - early.producedAt!).toBe(HOUR);
      expect(timesOf(early.der).nextUpdate).toBe(early.nextUpdate);

      // Ten minutes before it ends: valid for those ten minutes (the CA's chain goes on for a year).
      clock.now = responderEnds - 10 * MINUTE;
      const late = await responder.respond(request);
      expect(late).toMatchObject({ outcome: 'successful', cacheable: true, nextUpdate: responderEnds });
      expect(timesOf(late.der)).toMatchObject({ nextUpdate: responderEnds, responderNotAfter: responderEnds });
      // Cached, and served again while it is valid.
      clock.now = responderEnds - SECOND;
      expect((await responder.respond(request)).der).toEqual(late.der);

      // At its end, within a quarter of the validity the cache would otherwise serve it for: nothing is served.
      clock.now = responderEnds;
      const after = await responder.respond(request);
      expect(after).toMatchObject({ outcome: 'tryLater', cacheable: false });
      expect(after.reason).toContain('responder certificate ended');
    } finally {
      reads.close();
    }
  }, 60_000);
});
