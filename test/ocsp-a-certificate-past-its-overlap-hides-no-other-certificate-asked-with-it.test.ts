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
import { ocspRequest, ocspRequestAbout, ocspSingles, ocspStatus } from './support/ocsp-client.ts';
import { PKI_TEST_URL } from './support/pki-instance.ts';
import { issueCertifiedCredentialWith, testCa, testResponder, type TestLeaf } from './support/pki-test-ca.ts';

/*
 * Review 222: past the end of a rotation's overlap, with the handover's revocation not recorded yet, the responder
 * answered `tryLater` for the whole request (one nextUpdate for every SingleResponse, the earliest end). Asked in the
 * same request, a certificate revoked for keyCompromise was hidden behind it, and soft-failing clients read `tryLater`
 * as good. Now each certificate is answered: the revoked one `revoked`, the pending one `unknown` (RFC 6960 2.2) valid
 * for one second; `tryLater` only when every certificate asked about is pending.
 */
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe("an OCSP request about a certificate past its rotation's overlap and a revoked one", () => {
  const start = Math.floor(Date.now() / SECOND) * SECOND;
  const overlapEnd = start + 20 * MINUTE;
  let credence: Credence;
  let ca: IssuingCa;
  let rotating: TestLeaf;
  let revoked: TestLeaf;
  beforeAll(async () => {
    credence = openCredence({ location: { memory: true }, clock: new FakeClock(new Date(start)) });
    ca = await testCa('rotating', 'p256');
    // Given cred-1 rotating to cred-2 until `overlapEnd`, and cred-3 revoked for keyCompromise.
    rotating = await issueCertifiedCredentialWith(credence, ca, PKI_TEST_URL, 'cred-1');
    revoked = await issueCertifiedCredentialWith(credence, ca, PKI_TEST_URL, 'cred-3');
    const successor = issueCredentialData('cred-2', 'meter-1', { notBefore: new Date(start - HOUR).toISOString(), notAfter: new Date(start + 20 * DAY).toISOString() });
    await credence.engine.execute(command('provisionCredential', { credentialId: 'cred-1', method: 'pre-provisioning' }, { actor: operator }));
    await credence.engine.execute(command('issueCredential', { ...successor, predecessorId: 'cred-1' }, { actor: operator }));
    await credence.engine.execute(
      command('startCredentialRotation', { credentialId: 'cred-1', successorId: 'cred-2', overlapEndsAt: new Date(overlapEnd).toISOString() }, { actor: operator }),
    );
    await credence.engine.execute(command('revokeCredential', { credentialId: 'cred-3', reason: 'keyCompromise' }, { actor: operator }));
    await credence.settle();
  }, 60_000);
  afterAll(() => credence.close());

  it('answers the revoked one revoked and the pending one unknown; tryLater only when every one asked about is pending', async () => {
    const reads = openCommittedReadModel(credence.readModels);
    const credential = await testResponder(ca);
    const clock = { now: start + 123 };
    const responder = new OcspResponder({ reads, ca, published: new PublishedLedger(memoryPublishedRevocations()), credential: () => credential, now: () => clock.now });
    try {
      const both = await ocspRequestAbout([revoked, rotating], ca);
      // Before the end: revoked, and good capped at the end, as before (one nextUpdate for both).
      const before = await responder.respond(both);
      expect(before).toMatchObject({ outcome: 'successful', cacheable: false, producedAt: start, nextUpdate: overlapEnd });
      expect(ocspSingles(before.der)).toEqual([
        { status: 'revoked', nextUpdate: overlapEnd },
        { status: 'good', nextUpdate: overlapEnd },
      ]);

      // When the clock is 2 s past the end, the handover's revocation not recorded yet.
      const past = overlapEnd + 2 * SECOND;
      clock.now = past;
      // Then cred-3 alone is revoked, valid for the hour.
      expect(ocspStatus((await responder.respond(await ocspRequest(revoked, ca))).der)).toBe('revoked');
      // And asked together, in either order: revoked, and unknown for one second (no `good` a client could keep); the
      // answer's nextUpdate is the earliest, and nothing caches it.
      for (const [request, order] of [
        [both, ['revoked', 'unknown']],
        [await ocspRequestAbout([rotating, revoked], ca), ['unknown', 'revoked']],
      ] as const) {
        const answer = await responder.respond(request);
        expect(answer).toMatchObject({ outcome: 'successful', cacheable: false, producedAt: past, nextUpdate: past + SECOND });
        expect(ocspSingles(answer.der)).toEqual(order.map((status) => ({ status, nextUpdate: status === 'revoked' ? past + HOUR : past + SECOND })));
      }
      // And cred-1 alone, or asked twice, is tryLater as before: nothing in the request can be answered.
      for (const request of [await ocspRequest(rotating, ca), await ocspRequestAbout([rotating, rotating], ca)]) {
        const pending = await responder.respond(request);
        expect(pending).toMatchObject({ outcome: 'tryLater', cacheable: false });
        expect(pending.reason).toContain('overlap');
      }
      expect(responder.cacheSize.answers).toBe(1);
    } finally {
      reads.close();
    }
  }, 60_000);
});
