import * as asn1js from 'asn1js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as pkijs from 'pkijs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { memoryPublishedRevocations } from '../adapters/driven/pki/published-revocations.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { openCommittedReadModel } from '../adapters/runtime/pki-committed.ts';
import { OcspResponder } from '../adapters/runtime/pki-ocsp-responder.ts';
import { PublishedLedger } from '../adapters/runtime/pki-published.ts';
import { command } from '../domain/commands/index.ts';
import type { IssuingCa } from '../domain/x509/issuing-ca.ts';
import { issueCredentialData, operator } from './support/fleet.ts';
import { ocspRequest, ocspStatus, ocspTimes } from './support/ocsp-client.ts';
import { PKI_TEST_URL } from './support/pki-instance.ts';
import { issueCertifiedCredentialWith, pkiOf, testCa, testResponder, type TestLeaf } from './support/pki-test-ca.ts';
import { rootCaInDataFolder } from './support/revocation-dates.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 221: the service refuses a rotating credential from the end of its overlap (and dates its revocation as
 * superseded there, the invalidityDate), yet OCSP answered `good` for its certificate with nextUpdate, and Expires, an
 * hour after producedAt: a stapled or RFC 5019-cached `good` stayed usable up to an hour past that end. The end is
 * known in advance (the `pki` read model keeps the rotations under way), so an answer about a certificate whose
 * credential is rotating is valid no later than the end of the overlap (in whole seconds); once it has passed with the
 * revocation not recorded yet, `tryLater`, as for the responder's other pending states. An abandoned rotation caps
 * nothing.
 */
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** `request` with a nonce (RFC 8954) added: answered afresh, never from the cache as it is. */
const withNonce = (request: Uint8Array): Uint8Array => {
  const parsed = pkijs.OCSPRequest.fromBER(Uint8Array.from(request));
  parsed.tbsRequest.requestExtensions = [
    new pkijs.Extension({ extnID: '1.3.6.1.5.5.7.48.1.2', extnValue: new asn1js.OctetString({ valueHex: new Uint8Array(16).fill(9) }).toBER() }),
  ];
  return new Uint8Array(parsed.toSchema(true).toBER());
};

const rotate = (overlapEndsAt: number) =>
  command('startCredentialRotation', { credentialId: 'cred-1', successorId: 'cred-2', overlapEndsAt: new Date(overlapEndsAt).toISOString() }, { actor: operator });

/** cred-1 and cred-3 certified by `ca`; cred-2 issued as cred-1's successor (not provisioned: its rotation may be abandoned). */
const givenTwoCertifiedCredentials = async (credence: Credence, ca: IssuingCa, baseUrl: string, start: number) => {
  const rotating = await issueCertifiedCredentialWith(credence, ca, baseUrl, 'cred-1');
  const other = await issueCertifiedCredentialWith(credence, ca, baseUrl, 'cred-3');
  const successor = issueCredentialData('cred-2', 'meter-1', { notBefore: new Date(start - HOUR).toISOString(), notAfter: new Date(start + 20 * DAY).toISOString() });
  await credence.engine.execute(command('provisionCredential', { credentialId: 'cred-1', method: 'pre-provisioning' }, { actor: operator }));
  await credence.engine.execute(command('issueCredential', { ...successor, predecessorId: 'cred-1' }, { actor: operator }));
  return { rotating, other };
};

describe("an OCSP answer about a certificate whose credential's rotation is under way", () => {
  const start = Math.floor(Date.now() / SECOND) * SECOND;
  // Not on a second: nextUpdate is written in whole seconds, floored so it never passes the end.
  const overlapEndsAt = start + 20 * MINUTE + 500;
  const overlapEnd = start + 20 * MINUTE;
  let credence: Credence;
  let ca: IssuingCa;
  let rotating: TestLeaf;
  let other: TestLeaf;
  beforeAll(async () => {
    credence = openCredence({ location: { memory: true }, clock: new FakeClock(new Date(start)) });
    ca = await testCa('rotating', 'p256');
    ({ rotating, other } = await givenTwoCertifiedCredentials(credence, ca, PKI_TEST_URL, start));
    await credence.engine.execute(rotate(overlapEndsAt));
    await credence.settle();
  }, 60_000);
  afterAll(() => credence.close());

  it("is valid no later than the overlap's end, cached no longer, and answered tryLater past it; uncapped once abandoned", async () => {
    const reads = openCommittedReadModel(credence.readModels);
    const credential = await testResponder(ca);
    const clock = { now: start + 123 };
    const responder = new OcspResponder({ reads, ca, published: new PublishedLedger(memoryPublishedRevocations()), credential: () => credential, now: () => clock.now });
    try {
      const request = await ocspRequest(rotating, ca);
      // Twenty minutes before the end: valid until it, not for the hour.
      const capped = await responder.respond(request);
      expect(ocspStatus(capped.der)).toBe('good');
      expect(capped).toMatchObject({ outcome: 'successful', cacheable: true, producedAt: start, nextUpdate: overlapEnd });
      expect(ocspTimes(capped.der)).toEqual({ producedAt: start, thisUpdate: start, nextUpdate: overlapEnd });
      // A nonce's answer, signed afresh from the cached status, is capped as well.
      clock.now = start + 5 * MINUTE;
      const fresh = await responder.respond(withNonce(request));
      expect(ocspTimes(fresh.der)).toEqual({ producedAt: start + 5 * MINUTE, thisUpdate: start + 5 * MINUTE, nextUpdate: overlapEnd });
      // Within its last second: valid until the end of the second before it; the cache serves it no longer.
      clock.now = overlapEnd - 700;
      const last = await responder.respond(request);
      expect(last).toMatchObject({ outcome: 'successful', producedAt: overlapEnd - SECOND, nextUpdate: overlapEnd });

      // Another certificate of the CA, not rotating: an hour, as before.
      clock.now = start + 123;
      const unrotated = await responder.respond(await ocspRequest(other, ca));
      expect(unrotated).toMatchObject({ outcome: 'successful', producedAt: start, nextUpdate: start + HOUR });
      expect(ocspTimes(unrotated.der).nextUpdate).toBe(start + HOUR);

      // Past the end (within its second too), the handover's revocation not recorded yet: no `good` is signed.
      for (const at of [overlapEnd + 100, overlapEnd + 2 * SECOND]) {
        clock.now = at;
        const pending = await responder.respond(request);
        expect(pending).toMatchObject({ outcome: 'tryLater', cacheable: false });
        expect(pending.reason).toContain('overlap');
      }

      // Abandoned: no end caps the answer any more, even past the former one.
      await credence.engine.execute(command('abandonCredentialRotation', { credentialId: 'cred-1', successorId: 'cred-2' }, { actor: operator }));
      await credence.settle();
      clock.now = overlapEnd + 2 * SECOND;
      const abandoned = await responder.respond(request);
      expect(ocspStatus(abandoned.der)).toBe('good');
      expect(abandoned).toMatchObject({ outcome: 'successful', producedAt: overlapEnd + 2 * SECOND, nextUpdate: overlapEnd + 2 * SECOND + HOUR });
      expect(ocspTimes(abandoned.der).nextUpdate).toBe(overlapEnd + 2 * SECOND + HOUR);
    } finally {
      reads.close();
    }
  }, 60_000);
});

describe('an OCSP GET about a certificate whose credential is rotating, through the service (review 221 reproduction)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-ocsp-rotation-'));
  const start = Math.floor(Date.now() / SECOND) * SECOND;
  const clock = new FakeClock(new Date(start));
  const overlapEndsAt = start + 5 * MINUTE;
  let svc: TestService;
  let rotating: TestLeaf;
  let other: TestLeaf;
  beforeAll(async () => {
    await rootCaInDataFolder(dir, clock);
    svc = await startTestService({ dir, clock });
    const { credence, live } = svc.service.context;
    ({ rotating, other } = await givenTwoCertifiedCredentials(credence, pkiOf(svc).cas[0]!, svc.url, start));
    const outcome = await credence.engine.execute(rotate(overlapEndsAt));
    if (!(await live.caughtUp(outcome.events.at(-1)!.position, 30_000))) throw new Error('the live runtime did not catch up with the rotation');
  }, 60_000);
  afterAll(async () => {
    await svc?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const get = async (leaf: TestLeaf) => {
    const request = encodeURIComponent(Buffer.from(await ocspRequest(leaf, pkiOf(svc).cas[0]!)).toString('base64'));
    const reply = await fetch(`${svc.url}/pki/default/ocsp/${request}`);
    const der = new Uint8Array(await reply.arrayBuffer());
    expect(ocspStatus(der)).toBe('good');
    return { ...ocspTimes(der), expires: Date.parse(reply.headers.get('expires')!), cacheControl: reply.headers.get('cache-control') };
  };

  it("says nextUpdate, and Expires, at the overlap's end; an hour for a certificate not rotating", async () => {
    expect(await get(rotating)).toMatchObject({ nextUpdate: overlapEndsAt, expires: overlapEndsAt, cacheControl: 'public, no-cache' });
    const unrotated = await get(other);
    expect(unrotated.nextUpdate - unrotated.producedAt).toBe(HOUR);
    expect(unrotated.expires).toBe(unrotated.nextUpdate);
  }, 60_000);

  it('drops the answers it cached about a certificate whose rotation is abandoned, or begins: the next one is read again', async () => {
    const { credence, live } = svc.service.context;
    // Cached, capped at the overlap's end.
    expect((await get(rotating)).nextUpdate).toBe(overlapEndsAt);
    const abandoned = await credence.engine.execute(command('abandonCredentialRotation', { credentialId: 'cred-1', successorId: 'cred-2' }, { actor: operator }));
    expect(await live.caughtUp(abandoned.events.at(-1)!.position, 30_000)).toBe(true);
    const uncapped = await get(rotating);
    expect(uncapped.nextUpdate - uncapped.producedAt).toBe(HOUR);
    // And the other way: an answer cached for the hour is capped once a rotation begins.
    const again = await credence.engine.execute(rotate(overlapEndsAt));
    expect(await live.caughtUp(again.events.at(-1)!.position, 30_000)).toBe(true);
    expect((await get(rotating)).nextUpdate).toBe(overlapEndsAt);
  }, 60_000);
});
