import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryCrlNumbers } from '../adapters/driven/pki/crl-numbers.ts';
import { memoryPublishedRevocations, type PublishedRevocation } from '../adapters/driven/pki/published-revocations.ts';
import { openCommittedReadModel, type CommittedReadModel } from '../adapters/runtime/pki-committed.ts';
import { CrlPublisher } from '../adapters/runtime/pki-crl-publisher.ts';
import { OcspResponder } from '../adapters/runtime/pki-ocsp-responder.ts';
import { PublishedLedger } from '../adapters/runtime/pki-published.ts';
import type { DecodedEvent } from '../domain/stored.ts';
import { pkiUrls, type IssuingCa } from '../domain/x509/issuing-ca.ts';
import { pkiProjection } from '../projections/pki/index.ts';
import { system } from './support/fleet.ts';
import { crlInvalidityDate, ocspInvalidityDate } from './support/invalidity-dates.ts';
import { ocspRequest, ocspRevokedAt } from './support/ocsp-client.ts';
import { PKI_TEST_URL } from './support/pki-instance.ts';
import { testCa, testLeaf, testResponder, type TestLeaf } from './support/pki-test-ca.ts';
import { crlRevocationDate } from './support/revocation-dates.ts';
import { storedEvents } from './support/stored-events.ts';

/*
 * Review 203: a handover recorded late is now dated at its recording with the end of its overlap as its invalidityDate
 * (RFC 5280 5.3.2). A relying party may hold a CRL an earlier version signed, which listed the same revocation dated
 * back to the end of the overlap (reviews 171 to 203) or at its recording with no invalidityDate (before review 171).
 * What a CRL listed stands (RFC 5280 5.1.2.6, the published-revocations ledger): the entry is listed again, and
 * answered by OCSP, exactly as first published, neither dated again nor given an invalidityDate; a revocation no CRL
 * listed yet is published the new way.
 */
const HOUR = 3_600_000;
const T0 = Math.floor(Date.now() / 1000) * 1000 - 2 * 24 * HOUR;
const overlapEndsAt = T0 + 2 * HOUR;
const tickAt = T0 + 26 * HOUR;
const iso = (ms: number): string => new Date(ms).toISOString();

describe('three predecessors handed over a day late, two of them listed on a CRL by an earlier version', () => {
  let ca: IssuingCa;
  let leaves: { backDated: TestLeaf; recordedOnly: TestLeaf; fresh: TestLeaf };
  let db: Database.Database;
  let reads: CommittedReadModel;
  let ledger: PublishedLedger;

  beforeAll(async () => {
    ca = await testCa('default');
    const leaf = (name: string) => testLeaf(ca, { baseUrl: PKI_TEST_URL, name });
    leaves = { backDated: await leaf('meter-1'), recordedOnly: await leaf('meter-2'), fresh: await leaf('meter-3') };
    db = new Database(':memory:');
    db.defaultSafeIntegers(true);
    const pki = pkiProjection();
    pki.setup?.(db);
    const stored = storedEvents();
    const events: DecodedEvent[] = [];
    for (const [credentialId, l] of [['cred-back-dated', leaves.backDated], ['cred-recorded-only', leaves.recordedOnly], ['cred-fresh', leaves.fresh]] as const) {
      const certificate = { issuingCa: ca.id, serialNumber: l.serialNumber, notBefore: l.notBefore.toISOString(), notAfter: l.notAfter.toISOString(), der: l.der };
      events.push(stored(`credential-${credentialId}`, 'CredentialIssued', { credentialId, certificate }, T0));
      events.push(stored(`credential-${credentialId}`, 'CredentialRotationStarted', { credentialId, successorId: `${credentialId}-next`, overlapEndsAt: iso(overlapEndsAt) }, T0));
      events.push(stored(`credential-${credentialId}`, 'CredentialRevoked', { credentialId, reason: 'superseded' }, tickAt, { actor: system, commandType: 'completeCredentialRotation' }));
    }
    db.transaction(() => {
      for (const e of events) pki.apply!(db, e);
    })();
    reads = openCommittedReadModel(db);
    const published = (l: TestLeaf, credentialId: string, revokedAt: number): PublishedRevocation => ({
      serialNumber: l.serialNumber,
      credentialId,
      revokedAt: iso(revokedAt),
      reason: 'superseded',
      notAfter: l.notAfter.toISOString(),
    });
    // As earlier versions published them: dated back to the end of the overlap, and dated at the recording alone.
    const store = memoryPublishedRevocations();
    store.append([published(leaves.backDated, 'cred-back-dated', overlapEndsAt), published(leaves.recordedOnly, 'cred-recorded-only', tickAt)]);
    ledger = new PublishedLedger(store);
  }, 60_000);
  afterAll(() => {
    reads?.close();
    db?.close();
  });

  it('lists each on the complete CRL as first published, and the one not yet listed at its recording with its invalidityDate', async () => {
    const publisher = new CrlPublisher({ reads, ca, urls: pkiUrls(PKI_TEST_URL, ca.id), numbers: memoryCrlNumbers(Date.now), published: ledger, now: Date.now });
    try {
      await publisher.start();
      const der = (await publisher.full()).der;
      const dates = (l: TestLeaf) => [crlRevocationDate(der, l.serialNumber), crlInvalidityDate(der, l.serialNumber)];
      expect(dates(leaves.backDated)).toEqual([overlapEndsAt, undefined]);
      expect(dates(leaves.recordedOnly)).toEqual([tickAt, undefined]);
      expect(dates(leaves.fresh)).toEqual([tickAt, overlapEndsAt]);
      expect(ledger.get(leaves.fresh.serialNumber)?.invalidSince).toBe(iso(overlapEndsAt));
      expect(ledger.get(leaves.recordedOnly.serialNumber)?.invalidSince).toBeUndefined();
    } finally {
      publisher.stop();
    }
  });

  it('answers each by OCSP as the CRL lists it', async () => {
    const credential = await testResponder(ca);
    const responder = new OcspResponder({ reads, ca, published: ledger, credential: () => credential, now: Date.now });
    const answer = async (l: TestLeaf) => {
      const der = (await responder.respond(await ocspRequest(l, ca))).der;
      return [ocspRevokedAt(der), ocspInvalidityDate(der)];
    };
    expect(await answer(leaves.backDated)).toEqual([overlapEndsAt, undefined]);
    expect(await answer(leaves.recordedOnly)).toEqual([tickAt, undefined]);
    expect(await answer(leaves.fresh)).toEqual([tickAt, overlapEndsAt]);
  });
});
