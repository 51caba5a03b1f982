import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openCommittedReadModel, type CommittedReadModel } from '../adapters/runtime/pki-committed.ts';
import { OcspResponder } from '../adapters/runtime/pki-ocsp-responder.ts';
import type { IssuingCa } from '../domain/x509/issuing-ca.ts';
import { holderEnded, PkiChanges, pkiProjection } from '../projections/pki/index.ts';
import { setupPkiTables } from '../projections/pki/tables.ts';
import { setupCheckpoints, writeCheckpoint } from '../projections/runtime/checkpoints.ts';
import { ocspRequest, ocspStatus } from './support/ocsp-client.ts';
import { PKI_TEST_URL, serialsOf } from './support/pki-instance.ts';
import { expectEmptiedAndRebuildMarked } from './support/pki-read-model-of-an-earlier-version.ts';
import { testCa, testLeaf, testResponder, type TestLeaf } from './support/pki-test-ca.ts';
import { withCrlPublisher } from './support/pki-world-with-a-held-cascade.ts';
import { storedEvents } from './support/stored-events.ts';

/*
 * Review 397: the cascade ends a node whose enrolment expired (NodeEnrolmentExpired: its credentials revoked
 * cessationOfOperation) and revokes, as affiliationChanged, a node's certificates the CA of the subscription it left
 * certified once it is enrolled under another (RS-17, review 287). Until it appended those CredentialRevoked, OCSP
 * answered `good` for them, cacheable for an hour: the `pki` read model followed neither event. Now each makes the
 * certificates it ends owed their revocation (owner-endings.ts), never `good` until that revocation is recorded.
 */
const SECOND = 1000;
const NOW = Math.floor(Date.now() / SECOND) * SECOND - 60 * SECOND;

/** An in-memory pki read model, with an OCSP responder for each CA its events name. */
const world = async (cas: readonly IssuingCa[]) => {
  const db = new Database(':memory:');
  db.defaultSafeIntegers(true);
  const changes = new PkiChanges();
  const pki = pkiProjection(changes);
  pki.setup?.(db);
  const stored = storedEvents();
  const reads: CommittedReadModel = openCommittedReadModel(db);
  const responders = new Map<string, OcspResponder>();
  for (const ca of cas) {
    const credential = await testResponder(ca);
    responders.set(ca.id, new OcspResponder({ reads, ca, credential: () => credential, now: Date.now }));
  }
  const invalidate = (n: { serialNumber: string }) => responders.forEach((r) => r.invalidate(n.serialNumber));
  changes.subscribe({ revoked: invalidate, rotationChanged: invalidate, reset: () => responders.forEach((r) => r.clear()) });
  return {
    db,
    reads,
    apply: (...events: ReturnType<typeof stored>[]) => db.transaction(() => events.forEach((e) => pki.apply!(db, e)))(),
    event: stored,
    /** What OCSP answers for `leaf` of `ca`: its status, or the outcome when unsuccessful. */
    status: async (leaf: TestLeaf, ca: IssuingCa) => {
      const answer = await responders.get(ca.id)!.respond(await ocspRequest(leaf, ca));
      return answer.outcome === 'successful' ? ocspStatus(answer.der) : answer.outcome;
    },
    close: () => {
      reads.close();
      db.close();
    },
  };
};

const summary = (ca: IssuingCa, leaf: TestLeaf, certifies?: string) => ({
  issuingCa: ca.id,
  ...(certifies !== undefined ? { issuingCaCertifies: certifies } : {}),
  serialNumber: leaf.serialNumber,
  notBefore: leaf.notBefore.toISOString(),
  notAfter: leaf.notAfter.toISOString(),
  der: leaf.der,
});

describe('a node whose enrolment expired, before the cascade revokes its certificates', () => {
  it('has no certificate answered good, and each revoked once the cascade recorded it, listed by the next CRL', async () => {
    const ca = await testCa('default', 'p256');
    const leaves = { node: await testLeaf(ca, { baseUrl: PKI_TEST_URL, name: 'meter-1' }), other: await testLeaf(ca, { baseUrl: PKI_TEST_URL, name: 'meter-2' }) };
    const w = await world([ca]);
    try {
      w.apply(
        w.event('subscription-sub-a', 'SubscriptionCreated', { subscriptionId: 'sub-a', notAfter: new Date(NOW + 3600 * SECOND).toISOString() }, NOW),
        w.event('node-meter-1', 'NodeEnrolled', { nodeId: 'meter-1', subscriptionId: 'sub-a', cseId: 'C-meter-1' }, NOW),
        w.event('node-meter-2', 'NodeEnrolled', { nodeId: 'meter-2', subscriptionId: 'sub-a', cseId: 'C-meter-2' }, NOW),
        w.event('credential-cred-1', 'CredentialIssued', { credentialId: 'cred-1', owner: { kind: 'cse', id: 'C-meter-1', nodeId: 'meter-1' }, certificate: summary(ca, leaves.node) }, NOW),
        w.event('credential-cred-2', 'CredentialIssued', { credentialId: 'cred-2', owner: { kind: 'node', id: 'meter-2' }, certificate: summary(ca, leaves.other) }, NOW),
      );
      expect([await w.status(leaves.node, ca), await w.status(leaves.other, ca)]).toEqual(['good', 'good']);

      // When meter-1's enrolment expires (the cascade not run yet): tryLater for its certificate, meter-2's stays good.
      w.apply(w.event('node-meter-1', 'NodeEnrolmentExpired', { nodeId: 'meter-1', subscriptionId: 'sub-a' }, NOW + SECOND));
      expect([await w.status(leaves.node, ca), await w.status(leaves.other, ca)]).toEqual(['tryLater', 'good']);

      // When the cascade's revocation is recorded: revoked, listed by the CRL, nothing owed any more.
      await withCrlPublisher({ reads: w.reads, ca }, async (publisher) => {
        w.apply(w.event('credential-cred-1', 'CredentialRevoked', { credentialId: 'cred-1', reason: 'cessationOfOperation' }, NOW + 2 * SECOND));
        expect([await w.status(leaves.node, ca), await w.status(leaves.other, ca)]).toEqual(['revoked', 'good']);
        expect(serialsOf((await publisher.full()).der)).toEqual([leaves.node.serialNumber]);
      });
      expect(w.db.prepare('SELECT COUNT(*) AS n FROM pki_owed').get()).toEqual({ n: 0n });
    } finally {
      w.close();
    }
  }, 60_000);
});

describe('a node enrolled under another subscription, before the cascade revokes what the CA of the one it left certified', () => {
  it('has none of those answered good (a first enrolment marks nothing), and each revoked once the cascade recorded it', async () => {
    // sub-a-ca certifies Sub-A (it names it, review 355); `default` certifies no subscription of its own.
    const subCa = await testCa('sub-a-ca', 'p256');
    const shared = await testCa('default', 'p256');
    const leaves = {
      node: await testLeaf(subCa, { baseUrl: PKI_TEST_URL, name: 'meter-1' }),
      cse: await testLeaf(subCa, { baseUrl: PKI_TEST_URL, name: 'C-meter-1' }),
      late: await testLeaf(subCa, { baseUrl: PKI_TEST_URL, name: 'meter-1-late' }),
      stays: await testLeaf(shared, { baseUrl: PKI_TEST_URL, name: 'meter-1-shared' }),
      another: await testLeaf(subCa, { baseUrl: PKI_TEST_URL, name: 'meter-2' }),
    };
    const w = await world([subCa, shared]);
    try {
      w.apply(
        w.event('node-meter-1', 'NodeEnrolled', { nodeId: 'meter-1', subscriptionId: 'Sub-A', cseId: 'C-meter-1' }, NOW),
        w.event('node-meter-2', 'NodeEnrolled', { nodeId: 'meter-2', subscriptionId: 'Sub-A', cseId: 'C-meter-2' }, NOW),
        w.event('credential-cred-n', 'CredentialIssued', { credentialId: 'cred-n', owner: { kind: 'node', id: 'meter-1' }, certificate: summary(subCa, leaves.node, 'Sub-A') }, NOW),
        w.event('credential-cred-c', 'CredentialIssued', { credentialId: 'cred-c', owner: { kind: 'cse', id: 'C-meter-1', nodeId: 'meter-1' }, certificate: summary(subCa, leaves.cse, 'Sub-A') }, NOW),
        w.event('credential-cred-s', 'CredentialIssued', { credentialId: 'cred-s', owner: { kind: 'node', id: 'meter-1' }, certificate: summary(shared, leaves.stays) }, NOW),
        w.event('credential-cred-m', 'CredentialIssued', { credentialId: 'cred-m', owner: { kind: 'node', id: 'meter-2' }, certificate: summary(subCa, leaves.another, 'Sub-A') }, NOW),
        // Enrolled again under the subscription it is under: no move.
        w.event('node-meter-1', 'NodeEnrolled', { nodeId: 'meter-1', subscriptionId: 'Sub-A', cseId: 'C-meter-1' }, NOW),
      );
      const statuses = async () => [
        await w.status(leaves.node, subCa),
        await w.status(leaves.cse, subCa),
        await w.status(leaves.stays, shared),
        await w.status(leaves.another, subCa),
      ];
      // A first enrolment (and one under the same subscription) marks nothing owed.
      expect(await statuses()).toEqual(['good', 'good', 'good', 'good']);
      expect(w.db.prepare('SELECT COUNT(*) AS n FROM pki_owed').get()).toEqual({ n: 0n });

      // When meter-1 is enrolled under Sub-B (the cascade not run yet): what sub-a-ca certified of it is tryLater; its
      // certificate of the shared CA, and meter-2's of sub-a-ca, stay good.
      w.apply(w.event('node-meter-1', 'NodeEnrolled', { nodeId: 'meter-1', subscriptionId: 'Sub-B', cseId: 'C-meter-1' }, NOW + SECOND));
      expect(await statuses()).toEqual(['tryLater', 'tryLater', 'good', 'good']);

      // A certificate of sub-a-ca recorded after the move (review 292: the cascade revokes it on arrival) is no good either.
      w.apply(w.event('credential-cred-l', 'CredentialIssued', { credentialId: 'cred-l', owner: { kind: 'node', id: 'meter-1' }, certificate: summary(subCa, leaves.late, 'Sub-A') }, NOW + 2 * SECOND));
      expect(await w.status(leaves.late, subCa)).toBe('tryLater');

      // When the cascade's revocations are recorded: revoked, listed by sub-a-ca's CRL, nothing owed any more.
      await withCrlPublisher({ reads: w.reads, ca: subCa }, async (publisher) => {
        w.apply(
          ...['cred-n', 'cred-c', 'cred-l'].map((id) =>
            w.event(`credential-${id}`, 'CredentialRevoked', { credentialId: id, reason: 'affiliationChanged' }, NOW + 3 * SECOND),
          ),
        );
        expect(await statuses()).toEqual(['revoked', 'revoked', 'good', 'good']);
        expect(await w.status(leaves.late, subCa)).toBe('revoked');
        expect(serialsOf((await publisher.full()).der).sort()).toEqual([leaves.node.serialNumber, leaves.cse.serialNumber, leaves.late.serialNumber].sort());
      });
      expect(w.db.prepare('SELECT COUNT(*) AS n FROM pki_owed').get()).toEqual({ n: 0n });
      expect(holderEnded(w.db, subCa.id, leaves.node.serialNumber, new Date(NOW).toISOString())).toBe(false);
    } finally {
      w.close();
    }
  }, 60_000);
});

describe('a pki read model built before enrolments that expired or moved were followed', () => {
  it('is emptied, its checkpoint dropped, and rebuilt once from the log', () => {
    // Every table of the version before (those this version adds dropped), with a certificate, projected to 42.
    const db = new Database(':memory:');
    db.defaultSafeIntegers(true);
    setupCheckpoints(db);
    setupPkiTables(db);
    db.exec(`DROP TABLE IF EXISTS pki_node_enrolments; DROP TABLE IF EXISTS pki_subscriptions_left; DROP TABLE IF EXISTS pki_certified_subscriptions;
      INSERT INTO pki_certificates (credential_id, ca_id, serial, not_after) VALUES ('cred-a', 'default', '7f01', '2027-01-01T00:00:00.000Z');`);
    writeCheckpoint(db, 'pki', { position: 42n, occurredAt: '2026-06-01T00:00:00.000Z' });

    setupPkiTables(db);

    expectEmptiedAndRebuildMarked(db);
  });
});
