import Database from 'better-sqlite3';
import * as asn1js from 'asn1js';
import { describe, expect, it } from 'vitest';
import { memoryCrlBase } from '../adapters/driven/pki/crl-base.ts';
import { memoryCrlNumbers } from '../adapters/driven/pki/crl-numbers.ts';
import { memoryPublishedRevocations } from '../adapters/driven/pki/published-revocations.ts';
import { openCommittedReadModel, type CommittedReadModel } from '../adapters/runtime/pki-committed.ts';
import { CrlPublisher } from '../adapters/runtime/pki-crl-publisher.ts';
import { OcspResponder } from '../adapters/runtime/pki-ocsp-responder.ts';
import { PublishedLedger } from '../adapters/runtime/pki-published.ts';
import type { DecodedEvent } from '../domain/stored.ts';
import { pkiUrls, type IssuingCa } from '../domain/x509/issuing-ca.ts';
import { pkiProjection } from '../projections/pki/index.ts';
import { crlEntry } from './support/invalidity-dates.ts';
import { ocspRequest } from './support/ocsp-client.ts';
import { PKI_TEST_URL } from './support/pki-instance.ts';
import { testCa, testLeaf, testResponder, type TestLeaf } from './support/pki-test-ca.ts';
import { storedEvents } from './support/stored-events.ts';

/*
 * Review 210: a revocation's reason raised to keyCompromise must reach the delta CRL (RFC 5280 5.2.4: a delta lists the
 * entries changed since its base) whatever read it first and whenever the publisher started: OCSP recording the raise
 * before the CRL publisher read it (the publisher judged "raised" by the ledger, found it raised already, and never
 * moved the entry); a publisher stopped before it read the raise, started again on the base it kept (the base counted
 * the entry as listed, so the deltas left it out); a reload reading the entry twice across its pages (the first copy,
 * superseded, won).
 */
const HOUR = 3_600_000;
const REASON_CODE_OID = '2.5.29.21';
const KEY_COMPROMISE = 1;
const SUPERSEDED = 4;

const reasonOn = (der: Uint8Array, serial: string): number | undefined => {
  const entry = crlEntry(der, serial);
  if (entry === undefined) return undefined;
  const found = (entry.crlEntryExtensions?.extensions ?? []).find((e) => e.extnID === REASON_CODE_OID);
  return found === undefined ? 0 : (asn1js.fromBER(found.extnValue.valueBlock.valueHexView).result as asn1js.Enumerated).valueBlock.valueDec;
};

interface Scene {
  readonly ca: IssuingCa;
  readonly leaves: readonly TestLeaf[];
  readonly db: Database.Database;
  readonly apply: (events: readonly DecodedEvent[]) => void;
  readonly revoke: (i: number, reason: string, at: number) => DecodedEvent;
  readonly ledger: PublishedLedger;
  readonly reads: CommittedReadModel;
  readonly publisher: (base: ReturnType<typeof memoryCrlBase>, readPage?: number, reads?: CommittedReadModel) => CrlPublisher;
}

/** `count` certificates of one CA issued at T0, in a pki read model; a publisher over it, its base given. */
const scene = async (count: number): Promise<Scene> => {
  const ca = await testCa('default');
  const leaves: TestLeaf[] = [];
  for (let i = 0; i < count; i++) leaves.push(await testLeaf(ca, { baseUrl: PKI_TEST_URL, name: `meter-${i}` }));
  const db = new Database(':memory:');
  db.defaultSafeIntegers(true);
  const pki = pkiProjection();
  pki.setup?.(db);
  const stored = storedEvents();
  const T0 = Math.floor(Date.now() / 1000) * 1000 - 3 * HOUR;
  const apply = (events: readonly DecodedEvent[]) =>
    db.transaction(() => {
      for (const e of events) pki.apply!(db, e);
    })();
  apply(
    leaves.map((l, i) =>
      stored(`credential-c${i}`, 'CredentialIssued', {
        credentialId: `c${i}`,
        certificate: { issuingCa: ca.id, serialNumber: l.serialNumber, notBefore: l.notBefore.toISOString(), notAfter: l.notAfter.toISOString(), der: l.der },
      }, T0),
    ),
  );
  const reads = openCommittedReadModel(db);
  const numbers = memoryCrlNumbers(Date.now);
  const ledger = new PublishedLedger(memoryPublishedRevocations());
  return {
    ca,
    leaves,
    db,
    apply,
    revoke: (i, reason, at) => stored(`credential-c${i}`, 'CredentialRevoked', { credentialId: `c${i}`, reason }, at),
    ledger,
    reads,
    publisher: (base, readPage, through = reads) =>
      new CrlPublisher({ reads: through, ca, urls: pkiUrls(PKI_TEST_URL, ca.id), numbers, published: ledger, base, now: Date.now, ...(readPage !== undefined ? { readPage } : {}) }),
  };
};

const listed = async (publisher: CrlPublisher, serial: string) => [reasonOn((await publisher.full()).der, serial), reasonOn((await publisher.delta()).der, serial)];

describe('a raise to keyCompromise', () => {
  it('recorded by OCSP before the CRL publisher read it is listed so by the complete and the delta CRL', async () => {
    const s = await scene(2);
    const now = Date.now();
    s.apply([s.revoke(0, 'superseded', now - 2 * HOUR), s.revoke(1, 'superseded', now - 2 * HOUR)]);
    const publisher = s.publisher(memoryCrlBase());
    try {
      await publisher.start();
      // The first delta is on the first complete CRL: it lists nothing yet.
      expect(await listed(publisher, s.leaves[0]!.serialNumber)).toEqual([SUPERSEDED, undefined]);
      s.apply([s.revoke(0, 'keyCompromise', now - HOUR)]);
      const credential = await testResponder(s.ca);
      const responder = new OcspResponder({ reads: openCommittedReadModel(s.db), ca: s.ca, published: s.ledger, credential: () => credential, now: Date.now });
      await responder.respond(await ocspRequest(s.leaves[0]!, s.ca));
      expect(s.ledger.get(s.leaves[0]!.serialNumber)?.reason).toBe('keyCompromise');
      publisher.notify();
      await publisher.settled();
      expect(await listed(publisher, s.leaves[0]!.serialNumber)).toEqual([KEY_COMPROMISE, KEY_COMPROMISE]);
      expect(await listed(publisher, s.leaves[1]!.serialNumber)).toEqual([SUPERSEDED, undefined]);
    } finally {
      publisher.stop();
    }
  });

  it('committed while the publisher was stopped is listed by the deltas on the base it kept, after the restart', async () => {
    const s = await scene(2);
    const now = Date.now();
    s.apply([s.revoke(0, 'superseded', now - 2 * HOUR), s.revoke(1, 'superseded', now - 2 * HOUR)]);
    const base = memoryCrlBase();
    const before = s.publisher(base);
    await before.start();
    const firstComplete = (await before.full()).crlNumber;
    await before.settled();
    // A complete CRL signed just before the one served with the first delta (review 312).
    const baseNumber = base.load()?.crlNumber;
    expect(baseNumber).toBeLessThan(firstComplete);
    before.stop();
    s.apply([s.revoke(0, 'keyCompromise', now - HOUR)]);
    const after = s.publisher(base);
    try {
      await after.start();
      const delta = await after.delta();
      // The deltas stay on the base relying parties may hold, and list the raise.
      expect(base.load()?.crlNumber).toBe(baseNumber);
      expect(reasonOn(delta.der, s.leaves[0]!.serialNumber)).toBe(KEY_COMPROMISE);
      expect(reasonOn(delta.der, s.leaves[1]!.serialNumber)).toBeUndefined();
    } finally {
      after.stop();
    }
  });

  it('read twice by a reload across its pages (committed between two) is listed as raised, and recorded so', async () => {
    const s = await scene(3);
    const now = Date.now();
    s.apply([0, 1, 2].map((i) => s.revoke(i, 'superseded', now - 2 * HOUR)));
    // One row a page: the reload reads c0's first revocation, then the raise is committed, moving c0's row past the
    // pages still to read, where it is read again.
    let reads = 0;
    const between: CommittedReadModel = {
      ...s.reads,
      mode: s.reads.mode,
      uncommittedPkiWrites: () => s.reads.uncommittedPkiWrites(),
      close: () => s.reads.close(),
      read: async (query) => {
        const answer = await s.reads.read(query);
        if (++reads === 2) s.apply([s.revoke(0, 'keyCompromise', now - HOUR)]);
        return answer;
      },
    };
    const publisher = s.publisher(memoryCrlBase(), 1, between);
    try {
      await publisher.start();
      expect(reads).toBeGreaterThan(2);
      expect(reasonOn((await publisher.full()).der, s.leaves[0]!.serialNumber)).toBe(KEY_COMPROMISE);
      expect(s.ledger.get(s.leaves[0]!.serialNumber)?.reason).toBe('keyCompromise');
    } finally {
      publisher.stop();
    }
  });
});
