import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openCommittedReadModel, type CommittedReadModel } from '../adapters/runtime/pki-committed.ts';
import { OcspResponder } from '../adapters/runtime/pki-ocsp-responder.ts';
import type { IssuingCa } from '../domain/x509/issuing-ca.ts';
import { holderEnded, PKI_EVENT_TYPES, PkiChanges, pkiCompleteness, pkiProjection } from '../projections/pki/index.ts';
import { setupPkiTables } from '../projections/pki/tables.ts';
import { applyBatch } from '../projections/runtime/batch.ts';
import { readCheckpoint, setupCheckpoints, writeCheckpoint } from '../projections/runtime/checkpoints.ts';
import { takeSchemaChanges } from '../projections/runtime/schema-version.ts';
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
    takeSchemaChanges(db);
    db.exec(`DROP TABLE IF EXISTS pki_node_enrolments; DROP TABLE IF EXISTS pki_subscriptions_left; DROP TABLE IF EXISTS pki_certified_subscriptions;
      DROP TABLE IF EXISTS pki_cse_credentials; DROP TABLE IF EXISTS pki_instance_credentials; DROP TABLE IF EXISTS pki_instance_nodes;
      DROP TABLE IF EXISTS pki_instance_associations;
      INSERT INTO pki_certificates (credential_id, ca_id, serial, not_after) VALUES ('cred-a', 'default', '7f01', '2027-01-01T00:00:00.000Z');`);
    writeCheckpoint(db, 'pki', { position: 42n, occurredAt: '2026-06-01T00:00:00.000Z' });

    setupPkiTables(db);

    // Review 402: said at the start as any read model's upgrade rebuild is (review 51), once.
    expect(takeSchemaChanges(db)).toEqual([{ name: 'pki', stored: 7, version: 9 }]);
    expectEmptiedAndRebuildMarked(db);
    expect(takeSchemaChanges(db)).toEqual([]);
  });
});

describe('a pki read model built by review 397 (9fe08a22), before App-ID instances and CSE-ID renumberings were followed', () => {
  it('is emptied and rebuilt once, and the rebuild is a schema change the start says, naming pki', () => {
    const db = new Database(':memory:');
    db.defaultSafeIntegers(true);
    setupCheckpoints(db);
    setupPkiTables(db);
    // A fresh read model is no rebuild.
    expect(takeSchemaChanges(db)).toEqual([]);
    // What 9fe08a22 made: its moves' tables, pki_node_enrolments without the CSE-ID, none of the instances' tables.
    db.exec(`DROP TABLE pki_node_enrolments; DROP TABLE IF EXISTS pki_cse_credentials; DROP TABLE IF EXISTS pki_instance_credentials;
      DROP TABLE IF EXISTS pki_instance_nodes; DROP TABLE IF EXISTS pki_instance_associations;
      CREATE TABLE pki_node_enrolments (node_id TEXT PRIMARY KEY, subscription_id TEXT NOT NULL) WITHOUT ROWID;
      INSERT INTO pki_node_enrolments VALUES ('meter-1', 'sub-1');
      INSERT INTO pki_certificates (credential_id, ca_id, serial, not_after) VALUES ('cred-a', 'default', '7f01', '2027-01-01T00:00:00.000Z');`);
    writeCheckpoint(db, 'pki', { position: 42n, occurredAt: '2026-06-01T00:00:00.000Z' });

    setupPkiTables(db);

    expect(takeSchemaChanges(db)).toEqual([{ name: 'pki', stored: 8, version: 9 }]);
    expect(db.prepare('SELECT COUNT(*) AS n FROM pki_node_enrolments').get()).toEqual({ n: 0n });
    expect(db.prepare("SELECT name FROM pragma_table_info('pki_node_enrolments') WHERE name = 'cse_id'").get()).toEqual({ name: 'cse_id' });
    expectEmptiedAndRebuildMarked(db);
  });
});

/** An association of App-ID Rbilling's instance under AE-ID Cbill configured on `nodeId`, and established unless `configuredOnly`. */
const associationOn = (w: Awaited<ReturnType<typeof world>>, id: string, nodeId: string, at: number, configuredOnly = false) => [
  w.event(`association-${id}`, 'AssociationConfigured', {
    associationId: id,
    nodeId,
    registree: { kind: 'ae', id: 'Cbill', appId: 'Rbilling' },
    registrarCseId: 'C-registrar',
    credentialId: 'cred-app',
  }, at),
  ...(configuredOnly ? [] : [w.event(`association-${id}`, 'AssociationEstablished', { associationId: id, expiresAt: new Date(at + 3600 * SECOND).toISOString() }, at)]),
];

const AE_OWNER = { kind: 'ae', id: 'Cbill', appId: 'Rbilling' };

describe("an App-ID instance's certificate, before the cascade revokes it with the node the instance is established on (review 402)", () => {
  const instanceWorld = async () => {
    const ca = await testCa('sub-1', 'p256');
    const leaves = {
      node: await testLeaf(ca, { baseUrl: PKI_TEST_URL, name: 'meter-1' }),
      ae: await testLeaf(ca, { baseUrl: PKI_TEST_URL, name: 'Cbill' }),
      later: await testLeaf(ca, { baseUrl: PKI_TEST_URL, name: 'Cbill-later' }),
    };
    const w = await world([ca]);
    w.apply(
      w.event('subscription-sub-1', 'SubscriptionCreated', { subscriptionId: 'sub-1', notAfter: new Date(NOW + 3600 * SECOND).toISOString() }, NOW),
      w.event('node-meter-1', 'NodeEnrolled', { nodeId: 'meter-1', subscriptionId: 'sub-1', cseId: 'C-meter-1' }, NOW),
      w.event('node-meter-2', 'NodeEnrolled', { nodeId: 'meter-2', subscriptionId: 'sub-1', cseId: 'C-meter-2' }, NOW),
      w.event('credential-cred-n', 'CredentialIssued', { credentialId: 'cred-n', owner: { kind: 'node', id: 'meter-1' }, certificate: summary(ca, leaves.node) }, NOW),
      w.event('credential-ae-cred', 'CredentialIssued', { credentialId: 'ae-cred', owner: AE_OWNER, certificate: summary(ca, leaves.ae) }, NOW),
      // Established on meter-1; on meter-2 configured only (never ran there: meter-2's end takes nothing of it).
      ...associationOn(w, 'sa-own', 'meter-1', NOW),
      ...associationOn(w, 'sa-typo', 'meter-2', NOW, true),
      // Issued once the instance runs on meter-1: it follows meter-1 too.
      w.event('credential-ae-later', 'CredentialIssued', { credentialId: 'ae-later', owner: AE_OWNER, certificate: summary(ca, leaves.later) }, NOW),
    );
    const statuses = async () => [await w.status(leaves.node, ca), await w.status(leaves.ae, ca), await w.status(leaves.later, ca)];
    return { w, ca, leaves, statuses };
  };

  it('is no good once the node moved to another subscription than the one its CA certifies', async () => {
    const { w, ca, leaves, statuses } = await instanceWorld();
    try {
      expect(await statuses()).toEqual(['good', 'good', 'good']);
      w.apply(w.event('node-meter-2', 'NodeRevoked', { nodeId: 'meter-2', reason: 'cessationOfOperation' }, NOW + SECOND));
      expect(await statuses()).toEqual(['good', 'good', 'good']);
      w.apply(w.event('node-meter-1', 'NodeEnrolled', { nodeId: 'meter-1', subscriptionId: 'sub-2', cseId: 'C-meter-1' }, NOW + 2 * SECOND));
      expect(await statuses()).toEqual(['tryLater', 'tryLater', 'tryLater']);
      expect(holderEnded(w.db, ca.id, leaves.ae.serialNumber, new Date(NOW).toISOString())).toBe(true);
      // The cascade's revocations (affiliationChanged) settle them.
      w.apply(...['cred-n', 'ae-cred', 'ae-later'].map((id) => w.event(`credential-${id}`, 'CredentialRevoked', { credentialId: id, reason: 'affiliationChanged' }, NOW + 3 * SECOND)));
      expect(await statuses()).toEqual(['revoked', 'revoked', 'revoked']);
      expect(w.db.prepare('SELECT COUNT(*) AS n FROM pki_owed').get()).toEqual({ n: 0n });
    } finally {
      w.close();
    }
  }, 60_000);

  it("is no good once the node's enrolment expired", async () => {
    const { w, statuses } = await instanceWorld();
    try {
      w.apply(w.event('node-meter-1', 'NodeEnrolmentExpired', { nodeId: 'meter-1', subscriptionId: 'sub-1' }, NOW + SECOND));
      expect(await statuses()).toEqual(['tryLater', 'tryLater', 'tryLater']);
    } finally {
      w.close();
    }
  }, 60_000);

  it('is no good once the node is revoked, and one issued to the instance afterwards follows no ended node', async () => {
    const { w, ca, statuses } = await instanceWorld();
    try {
      w.apply(w.event('node-meter-1', 'NodeRevoked', { nodeId: 'meter-1', reason: 'cessationOfOperation' }, NOW + SECOND));
      expect(await statuses()).toEqual(['tryLater', 'tryLater', 'tryLater']);
      // Issued after meter-1 ended: the instance runs on no live node (its App-ID stands), so nothing is owed.
      const after = await testLeaf(ca, { baseUrl: PKI_TEST_URL, name: 'Cbill-after' });
      w.apply(w.event('credential-ae-after', 'CredentialIssued', { credentialId: 'ae-after', owner: AE_OWNER, certificate: summary(ca, after) }, NOW + 2 * SECOND));
      expect(await w.status(after, ca)).toBe('good');
    } finally {
      w.close();
    }
  }, 60_000);
});

describe('a node enrolled again under another CSE-ID, before the cascade revokes what was issued to the old one naming it (review 402)', () => {
  it("has those answered tryLater, also one recorded after the renumbering, and the node's own certificate stays good", async () => {
    const ca = await testCa('default', 'p256');
    const leaves = {
      node: await testLeaf(ca, { baseUrl: PKI_TEST_URL, name: 'meter-1' }),
      old: await testLeaf(ca, { baseUrl: PKI_TEST_URL, name: 'C-old' }),
      late: await testLeaf(ca, { baseUrl: PKI_TEST_URL, name: 'C-old-late' }),
      renumbered: await testLeaf(ca, { baseUrl: PKI_TEST_URL, name: 'C-new' }),
    };
    const w = await world([ca]);
    try {
      w.apply(
        w.event('node-meter-1', 'NodeEnrolled', { nodeId: 'meter-1', subscriptionId: 'sub-1', cseId: 'C-old' }, NOW),
        w.event('credential-cred-n', 'CredentialIssued', { credentialId: 'cred-n', owner: { kind: 'node', id: 'meter-1' }, certificate: summary(ca, leaves.node) }, NOW),
        w.event('credential-cred-o', 'CredentialIssued', { credentialId: 'cred-o', owner: { kind: 'cse', id: 'C-old', nodeId: 'meter-1' }, certificate: summary(ca, leaves.old) }, NOW),
        // Enrolled again under the same CSE-ID: nothing.
        w.event('node-meter-1', 'NodeEnrolled', { nodeId: 'meter-1', subscriptionId: 'sub-1', cseId: 'C-old' }, NOW),
      );
      expect([await w.status(leaves.node, ca), await w.status(leaves.old, ca)]).toEqual(['good', 'good']);

      w.apply(w.event('node-meter-1', 'NodeEnrolled', { nodeId: 'meter-1', subscriptionId: 'sub-1', cseId: 'C-new' }, NOW + SECOND));
      expect([await w.status(leaves.node, ca), await w.status(leaves.old, ca)]).toEqual(['good', 'tryLater']);

      // Decided before the renumbering, recorded after it: the cascade revokes it on arrival, OCSP says no good.
      w.apply(
        w.event('credential-cred-l', 'CredentialIssued', { credentialId: 'cred-l', owner: { kind: 'cse', id: 'C-old', nodeId: 'meter-1' }, certificate: summary(ca, leaves.late) }, NOW + 2 * SECOND),
        w.event('credential-cred-r', 'CredentialIssued', { credentialId: 'cred-r', owner: { kind: 'cse', id: 'C-new', nodeId: 'meter-1' }, certificate: summary(ca, leaves.renumbered) }, NOW + 2 * SECOND),
      );
      expect([await w.status(leaves.late, ca), await w.status(leaves.renumbered, ca)]).toEqual(['tryLater', 'good']);

      w.apply(...['cred-o', 'cred-l'].map((id) => w.event(`credential-${id}`, 'CredentialRevoked', { credentialId: id, reason: 'affiliationChanged' }, NOW + 3 * SECOND)));
      expect([await w.status(leaves.old, ca), await w.status(leaves.late, ca)]).toEqual(['revoked', 'revoked']);
      expect(w.db.prepare('SELECT COUNT(*) AS n FROM pki_owed').get()).toEqual({ n: 0n });
    } finally {
      w.close();
    }
  }, 60_000);
});

/*
 * Review 411: the markers above tell only what a folder lacks. A folder of this version that an earlier Credence ran
 * (one that follows no NodeEnrolled, association or CSE-ID, or one whose pki_node_enrolments knows no CSE-ID) lacks
 * nothing when upgraded again, yet misses what that version passed over: a CSE credential of a node it enrolled under
 * another CSE-ID stayed owed, tryLater until its notAfter. So the read model keeps its version in projection_schemas,
 * as ensureSchemaVersion does for the others, and a checkpoint that another version's batch wrote takes it away.
 */
describe('a pki read model of this version that an earlier Credence ran (review 411)', () => {
  const current = () => {
    const db = new Database(':memory:');
    db.defaultSafeIntegers(true);
    setupCheckpoints(db);
    setupPkiTables(db);
    expect(takeSchemaChanges(db)).toEqual([]);
    return db;
  };
  const projectedBy = (db: Database.Database, pki: ReturnType<typeof pkiProjection>) => {
    const event = storedEvents()('credential-cred-a', 'CredentialIssued', { credentialId: 'cred-a', owner: { kind: 'node', id: 'meter-1' } }, NOW);
    db.exec("INSERT INTO pki_certificates (credential_id, ca_id, serial, not_after) VALUES ('cred-a', 'default', '7f01', '2027-01-01T00:00:00.000Z')");
    applyBatch(db, pki, [{ ...event.record, position: 42n } as unknown as Parameters<typeof applyBatch>[2][number]], [event]);
  };

  it('is not rebuilt when only this version projected it', () => {
    const db = current();
    projectedBy(db, pkiProjection());
    expect(db.prepare("SELECT version FROM projection_schemas WHERE name = 'pki'").get()).toEqual({ version: 9n });

    setupPkiTables(db);

    expect(takeSchemaChanges(db)).toEqual([]);
    expect(db.prepare('SELECT COUNT(*) AS n FROM pki_certificates').get()).toEqual({ n: 1n });
    expect(readCheckpoint(db, 'pki')?.position).toBe(42n);
    db.close();
  });

  it('is rebuilt, and says so, when its projection_schemas row is missing (written before it was kept)', () => {
    const db = current();
    projectedBy(db, pkiProjection());
    db.exec("DELETE FROM projection_schemas WHERE name = 'pki'");

    setupPkiTables(db);

    expect(takeSchemaChanges(db)).toEqual([{ name: 'pki', stored: 9, version: 9 }]);
    expect(db.prepare("SELECT version FROM projection_schemas WHERE name = 'pki'").get()).toEqual({ version: 9n });
    expectEmptiedAndRebuildMarked(db);
  });

  it('is rebuilt, and says so, when its row names another version', () => {
    const db = current();
    projectedBy(db, pkiProjection());
    db.exec("UPDATE projection_schemas SET version = 8 WHERE name = 'pki'");

    setupPkiTables(db);

    expect(takeSchemaChanges(db)).toEqual([{ name: 'pki', stored: 8, version: 9 }]);
    expectEmptiedAndRebuildMarked(db);
  });

  it('is rebuilt once upgraded again after an earlier version (knowing nothing of the row) projected it', () => {
    const db = current();
    projectedBy(db, pkiProjection());
    // What 9fe08a22 does with a NodeEnrolled: its INSERT names no CSE-ID, and must not stick the projection.
    db.exec("INSERT INTO pki_node_enrolments (node_id, subscription_id) VALUES ('n1', 'sub-1')");
    // Its batch writes the checkpoint as the runner does, without this version's batch around it.
    writeCheckpoint(db, 'pki', { position: 43n, occurredAt: '2026-06-01T00:00:00.000Z' });
    // It only reads and writes rows it knows: the others' rows are untouched.
    expect(db.prepare("SELECT COUNT(*) AS n FROM projection_schemas WHERE name <> 'pki' AND name <> 'pki:batch'").get()).toEqual({ n: 0n });

    setupPkiTables(db);

    expect(takeSchemaChanges(db)).toEqual([{ name: 'pki', stored: 9, version: 9 }]);
    expect(db.prepare('SELECT COUNT(*) AS n FROM pki_node_enrolments').get()).toEqual({ n: 0n });
    expect(readCheckpoint(db, 'pki')).toBeUndefined();
    expect(pkiCompleteness(db)).toEqual({ complete: false, position: undefined, until: 43n });
    setupPkiTables(db);
    expect(takeSchemaChanges(db)).toEqual([]);
    db.close();
  });
});

describe('an AE association configured and never established (review 411)', () => {
  it('leaves no row once revoked or expired', async () => {
    const w = await world([]);
    try {
      w.apply(
        ...associationOn(w, 'sa-revoked', 'meter-1', NOW, true),
        ...associationOn(w, 'sa-expired', 'meter-1', NOW, true),
        ...associationOn(w, 'sa-kept', 'meter-1', NOW, true),
      );
      expect(w.db.prepare('SELECT COUNT(*) AS n FROM pki_instance_associations').get()).toEqual({ n: 3n });
      w.apply(
        w.event('association-sa-revoked', 'AssociationRevoked', { associationId: 'sa-revoked', reason: 'cessationOfOperation' }, NOW + SECOND),
        w.event('association-sa-expired', 'AssociationExpired', { associationId: 'sa-expired' }, NOW + SECOND),
      );
      expect(w.db.prepare('SELECT association_id FROM pki_instance_associations').all()).toEqual([{ association_id: 'sa-kept' }]);
    } finally {
      w.close();
    }
  }, 60_000);

  it('is among the events the pki read model is made of', () => {
    expect(PKI_EVENT_TYPES).toEqual(expect.arrayContaining(['AssociationRevoked', 'AssociationExpired']));
  });
});
