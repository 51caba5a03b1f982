import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Credence } from '../adapters/runtime/index.ts';
import { openCommittedReadModel } from '../adapters/runtime/pki-committed.ts';
import type { CrlPublisher } from '../adapters/runtime/pki-crl-publisher.ts';
import { OcspResponder } from '../adapters/runtime/pki-ocsp-responder.ts';
import { command } from '../domain/commands/index.ts';
import type { IssuingCa } from '../domain/x509/issuing-ca.ts';
import { certificateStanding, PkiChanges, pkiProjection } from '../projections/pki/index.ts';
import type { ProjectionRunner } from '../projections/runtime/index.ts';
import { operator } from './support/fleet.ts';
import { ocspRequest, ocspRequestAbout, ocspStatus } from './support/ocsp-client.ts';
import { PKI_TEST_URL, serialsOf } from './support/pki-instance.ts';
import { testCa, testLeaf, testResponder, type TestLeaf } from './support/pki-test-ca.ts';
import { pkiWorldWithAHeldCascade, withCrlPublisher, type PkiWorldWithAHeldCascade } from './support/pki-world-with-a-held-cascade.ts';
import { storedEvents } from './support/stored-events.ts';

/*
 * Review 306: `revokeNode` (or `revokeApplication`, or a bootstrap credential's revocation for keyCompromise) was
 * acknowledged while OCSP went on answering `good`, cacheable for an hour, for the node's certificates, until the
 * cascade appended their CredentialRevoked (batched, or later when it lags or backs off). The `pki` read model now
 * keeps what each certificate follows and its end: until the certificate's own revocation is recorded, OCSP answers
 * `tryLater` (or `unknown` for one second beside another certificate), never cached. The CRLs are not held back
 * (review 308, a-revocation-the-cascade-dead-letters-…): they list it at the next issue once it is recorded.
 */
const SECOND = 1000;

describe('a node revoked, the cascade held back', () => {
  let world: PkiWorldWithAHeldCascade;
  let clock: PkiWorldWithAHeldCascade['clock'];
  let credence: Credence;
  let ca: IssuingCa;
  let leaf: TestLeaf;
  let other: TestLeaf;
  let db: PkiWorldWithAHeldCascade['db'];
  let pkiOnly: ProjectionRunner;
  let responder: OcspResponder;
  let publisher: CrlPublisher;
  beforeAll(async () => {
    // Given cred-1 of meter-1, and cred-9 of meter-2 (which stays).
    world = await pkiWorldWithAHeldCascade();
    ({ clock, credence, ca, leaf, other, db, pkiOnly, responder, publisher } = world);
  }, 60_000);
  afterAll(async () => {
    await world?.close();
  });

  it('answers no good once revokeNode is acknowledged, and revoked once the cascade recorded it, listed by the next delta CRL', async () => {
    const request = await ocspRequest(leaf, ca);
    // Before: good, and kept (cacheable, in the responder's cache too).
    const before = await responder.respond(request);
    expect([before.outcome, ocspStatus(before.der), before.cacheable]).toEqual(['successful', 'good', true]);
    const deltaBefore = await publisher.delta();

    // When meter-1 is revoked, and the pki read model projects it, the cascade not run yet.
    await credence.engine.execute(command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }));
    await pkiOnly.catchUp();
    expect(certificateStanding(db, ca.id, leaf.serialNumber).status).toBe('good');

    // Then OCSP answers tryLater, uncached, at once and a second later (not the cached `good`).
    for (const later of [0, SECOND]) {
      clock.now += later;
      const answer = await responder.respond(request);
      expect([answer.outcome, answer.cacheable]).toEqual(['tryLater', false]);
    }
    // Asked with a certificate of another node: unknown for one second beside its `good`, nothing cached.
    const both = await responder.respond(await ocspRequestAbout([leaf, other], ca));
    expect(both).toMatchObject({ outcome: 'successful', cacheable: false, nextUpdate: Math.floor(clock.now / SECOND) * SECOND + SECOND });
    clock.now += SECOND;

    // When the cascade runs and its revocation is projected: revoked, listed by the next CRLs.
    await credence.settle();
    await pkiOnly.catchUp();
    const after = await responder.respond(request);
    expect([after.outcome, ocspStatus(after.der)]).toEqual(['successful', 'revoked']);
    expect(ocspStatus((await responder.respond(await ocspRequest(other, ca))).der)).toBe('good');
    const delta = await publisher.delta();
    expect(delta.crlNumber).toBeGreaterThan(deltaBefore.crlNumber);
    expect(serialsOf(delta.der)).toContain(leaf.serialNumber);
  }, 60_000);
});

describe('an App-ID revoked, or a bootstrap credential compromised, before the revocations that follow', () => {
  it('leaves no certificate it owes a revocation good, and settles once that revocation is recorded', async () => {
    const ca = await testCa('default', 'p256');
    const leaves = { app: await testLeaf(ca, { baseUrl: PKI_TEST_URL, name: 'app-1' }), provisioned: await testLeaf(ca, { baseUrl: PKI_TEST_URL, name: 'meter-1' }) };
    const T0 = Math.floor(Date.now() / SECOND) * SECOND - 60 * SECOND;
    const db = new Database(':memory:');
    db.defaultSafeIntegers(true);
    const changes = new PkiChanges();
    const pki = pkiProjection(changes);
    pki.setup?.(db);
    const stored = storedEvents();
    const summary = (l: TestLeaf) => ({ issuingCa: ca.id, serialNumber: l.serialNumber, notBefore: l.notBefore.toISOString(), notAfter: l.notAfter.toISOString(), der: l.der });
    const apply = (...events: ReturnType<typeof stored>[]) => db.transaction(() => events.forEach((e) => pki.apply!(db, e)))();
    apply(
      stored('credential-cred-a', 'CredentialIssued', { credentialId: 'cred-a', owner: { kind: 'ae', id: 'C-ae-1', appId: 'app-1' }, certificate: summary(leaves.app) }, T0),
      stored('credential-cred-p', 'CredentialIssued', { credentialId: 'cred-p', owner: { kind: 'node', id: 'meter-1' }, certificate: summary(leaves.provisioned) }, T0),
      stored('credential-cred-p', 'CredentialProvisioned', { credentialId: 'cred-p', method: 'remote-provisioning', bootstrapCredentialId: 'boot-1' }, T0),
    );
    const reads = openCommittedReadModel(db);
    const credential = await testResponder(ca);
    const responder = new OcspResponder({ reads, ca, credential: () => credential, now: Date.now });
    changes.subscribe({ revoked: (n) => responder.invalidate(n.serialNumber), rotationChanged: (n) => responder.invalidate(n.serialNumber), reset: () => responder.clear() });
    const status = async (l: TestLeaf) => {
      const a = await responder.respond(await ocspRequest(l, ca));
      return a.outcome === 'successful' ? ocspStatus(a.der) : a.outcome;
    };
    try {
      expect([await status(leaves.app), await status(leaves.provisioned)]).toEqual(['good', 'good']);
      // A bootstrap revoked for another reason gives nothing away: cred-p stays good.
      apply(stored('credential-boot-1', 'CredentialRevoked', { credentialId: 'boot-1', reason: 'superseded' }, T0 + SECOND));
      expect(await status(leaves.provisioned)).toBe('good');
      apply(
        stored('application-app-1', 'ApplicationRevoked', { appId: 'app-1', reason: 'privilegeWithdrawn' }, T0 + 2 * SECOND),
        stored('credential-boot-1', 'CredentialRevoked', { credentialId: 'boot-1', reason: 'keyCompromise' }, T0 + 3 * SECOND),
      );
      expect([await status(leaves.app), await status(leaves.provisioned)]).toEqual(['tryLater', 'tryLater']);
      await withCrlPublisher({ reads, ca }, async (publisher) => {
        apply(
          stored('credential-cred-a', 'CredentialRevoked', { credentialId: 'cred-a', reason: 'privilegeWithdrawn' }, T0 + 4 * SECOND),
          stored('credential-cred-p', 'CredentialRevoked', { credentialId: 'cred-p', reason: 'keyCompromise' }, T0 + 4 * SECOND),
        );
        expect([await status(leaves.app), await status(leaves.provisioned)]).toEqual(['revoked', 'revoked']);
        expect(serialsOf((await publisher.full()).der).sort()).toEqual([leaves.app.serialNumber, leaves.provisioned.serialNumber].sort());
      });
    } finally {
      reads.close();
      db.close();
    }
  }, 60_000);
});
