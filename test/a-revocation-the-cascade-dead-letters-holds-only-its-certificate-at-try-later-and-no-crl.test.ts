import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { memoryCrlNumbers } from '../adapters/driven/pki/crl-numbers.ts';
import { memoryPublishedRevocations } from '../adapters/driven/pki/published-revocations.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { openCommittedReadModel, type CommittedReadModel } from '../adapters/runtime/pki-committed.ts';
import { CrlPublisher } from '../adapters/runtime/pki-crl-publisher.ts';
import { OcspResponder } from '../adapters/runtime/pki-ocsp-responder.ts';
import { PublishedLedger } from '../adapters/runtime/pki-published.ts';
import { command } from '../domain/commands/index.ts';
import { pkiUrls, type IssuingCa } from '../domain/x509/issuing-ca.ts';
import { PkiChanges, pkiProjection } from '../projections/pki/index.ts';
import { ProjectionRunner } from '../projections/runtime/index.ts';
import { cmd, operator, profile } from './support/fleet.ts';
import { ocspRequest, ocspStatus } from './support/ocsp-client.ts';
import { PKI_TEST_URL, serialsOf } from './support/pki-instance.ts';
import { issueCertifiedCredentialWith, testCa, testResponder, type TestLeaf } from './support/pki-test-ca.ts';
import { tamper } from './support/tampered-log.ts';

/*
 * Review 308: while a certificate was owed its revocation (its node revoked, the cascade's revocation of it not
 * recorded yet), the CRL publisher issued no CRL for its CA. A revocation the cascade dead-letters (a broken stream)
 * is owed until the certificate's notAfter: every CRL of that CA stayed frozen, and a keyCompromise revocation of an
 * unrelated certificate by hand never reached one. The owed certificate alone is held (OCSP `tryLater`); the CRLs go on
 * from the revocations recorded.
 */
const SECOND = 1000;

describe('a node revoked, the cascade dead-lettering its certificate’s revocation', () => {
  const start = Math.floor(Date.now() / SECOND) * SECOND;
  const clock = { now: start + 123 };
  let credence: Credence;
  let ca: IssuingCa;
  let broken: TestLeaf;
  let unrelated: TestLeaf;
  // The pki read model alone, projected by its own runner after the cascade settles.
  const db = new Database(':memory:');
  db.defaultSafeIntegers(true);
  const changes = new PkiChanges();
  let pkiOnly: ProjectionRunner;
  let reads: CommittedReadModel;
  let responder: OcspResponder;
  let publisher: CrlPublisher;
  beforeAll(async () => {
    credence = openCredence({ location: { memory: true }, clock: new FakeClock(new Date(start)) });
    ca = await testCa('default', 'p256');
    // Given cred-1 of meter-1, provisioned, its stream then broken (provisioned twice); and cred-9 of meter-2.
    broken = await issueCertifiedCredentialWith(credence, ca, PKI_TEST_URL, 'cred-1');
    await credence.engine.execute(cmd.provisionCredential('cred-1'));
    await credence.engine.execute(command('registerNode', { nodeId: 'meter-2', profile }, { actor: operator }));
    await credence.engine.execute(command('enrolNode', { nodeId: 'meter-2', subscriptionId: 'sub-1', cseId: '/cse-meter-2' }, { actor: operator }));
    unrelated = await issueCertifiedCredentialWith(credence, ca, PKI_TEST_URL, 'cred-9', 'meter-2');
    await credence.settle();
    await tamper(credence, 'credential-cred-1', 'CredentialProvisioned', { credentialId: 'cred-1', method: 'pre-provisioning' });
    pkiOnly = new ProjectionRunner({ db, store: credence.store, projections: [pkiProjection(changes)] });
    await pkiOnly.catchUp();
    reads = openCommittedReadModel(db);
    const credential = await testResponder(ca);
    responder = new OcspResponder({ reads, ca, published: new PublishedLedger(memoryPublishedRevocations()), credential: () => credential, now: () => clock.now });
    publisher = new CrlPublisher({ reads, ca, urls: pkiUrls(PKI_TEST_URL, ca.id), numbers: memoryCrlNumbers(() => clock.now), published: new PublishedLedger(memoryPublishedRevocations()), now: () => clock.now });
    changes.subscribe({ revoked: (n) => responder.invalidate(n.serialNumber), rotationChanged: (n) => responder.invalidate(n.serialNumber), reset: () => responder.clear() });
    await publisher.start();
  }, 60_000);
  afterAll(async () => {
    publisher.stop();
    reads.close();
    db.close();
    await credence.close();
  });

  it('answers tryLater for that certificate alone, and lists a later keyCompromise of another in the next complete and delta CRL', async () => {
    const status = async (l: TestLeaf) => {
      const a = await responder.respond(await ocspRequest(l, ca));
      return a.outcome === 'successful' ? ocspStatus(a.der) : a.outcome;
    };
    const fullBefore = await publisher.full();
    const deltaBefore = await publisher.delta();

    // When meter-1 is revoked and the cascade runs: cred-1's revocation is dead-lettered (its history is broken).
    await credence.engine.execute(command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }));
    await credence.settle();
    await pkiOnly.catchUp();
    expect(await credence.engine.view('credential', 'cred-1').catch((e: unknown) => e)).toBeInstanceOf(Error);
    expect([await status(broken), await status(unrelated)]).toEqual(['tryLater', 'good']);

    // When cred-9 is revoked for keyCompromise by hand.
    clock.now += SECOND;
    await credence.engine.execute(cmd.revokeCredential('cred-9', 'keyCompromise'));
    await pkiOnly.catchUp();

    // Then the next complete and delta CRLs list it (cred-1 still owed: tryLater, in neither).
    clock.now += SECOND;
    const full = await publisher.full();
    const delta = await publisher.delta();
    expect(full.crlNumber).toBeGreaterThan(fullBefore.crlNumber);
    expect(delta.crlNumber).toBeGreaterThan(deltaBefore.crlNumber);
    expect(serialsOf(full.der)).toEqual([unrelated.serialNumber]);
    expect(serialsOf(delta.der)).toEqual([unrelated.serialNumber]);
    expect([await status(broken), await status(unrelated)]).toEqual(['tryLater', 'revoked']);
  }, 60_000);
});
