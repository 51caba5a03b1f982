import Database from 'better-sqlite3';
import { FakeClock } from '../../adapters/driven/clock/index.ts';
import { memoryCrlNumbers } from '../../adapters/driven/pki/crl-numbers.ts';
import { memoryPublishedRevocations } from '../../adapters/driven/pki/published-revocations.ts';
import { openCredence, type Credence } from '../../adapters/runtime/index.ts';
import { openCommittedReadModel, type CommittedReadModel } from '../../adapters/runtime/pki-committed.ts';
import { CrlPublisher } from '../../adapters/runtime/pki-crl-publisher.ts';
import { OcspResponder } from '../../adapters/runtime/pki-ocsp-responder.ts';
import { PublishedLedger } from '../../adapters/runtime/pki-published.ts';
import { command } from '../../domain/commands/index.ts';
import { pkiUrls, type IssuingCa } from '../../domain/x509/issuing-ca.ts';
import { PkiChanges, pkiProjection } from '../../projections/pki/index.ts';
import { ProjectionRunner } from '../../projections/runtime/index.ts';
import { operator, profile } from './fleet.ts';
import { PKI_TEST_URL } from './pki-instance.ts';
import { issueCertifiedCredentialWith, testCa, testResponder, type TestLeaf } from './pki-test-ca.ts';

const SECOND = 1000;

export interface PkiWorldWithAHeldCascade {
  /** Now for the responder and the publisher: a test moves it on by hand. */
  readonly clock: { now: number };
  readonly credence: Credence;
  readonly ca: IssuingCa;
  /** cred-1 of meter-1. */
  readonly leaf: TestLeaf;
  /** cred-9 of meter-2. */
  readonly other: TestLeaf;
  /** The pki read model alone, projected by its own runner: credence.settle() runs the cascade, pkiOnly.catchUp() this. */
  readonly db: Database.Database;
  readonly pkiOnly: ProjectionRunner;
  readonly reads: CommittedReadModel;
  readonly responder: OcspResponder;
  /** Started. */
  readonly publisher: CrlPublisher;
  close(): Promise<void>;
}

/**
 * cred-1 of meter-1 and cred-9 of meter-2 issued by a p256 CA, the pki read model projected apart from the cascade,
 * an OCSP responder invalidated by its changes and a started CRL publisher on it. `onceCred1Issued` runs right after
 * cred-1 is issued, `beforeProjecting` before the read model's first catch-up.
 */
export async function pkiWorldWithAHeldCascade(hooks: {
  onceCred1Issued?: (credence: Credence) => Promise<void>;
  beforeProjecting?: (credence: Credence) => Promise<void>;
} = {}): Promise<PkiWorldWithAHeldCascade> {
  const start = Math.floor(Date.now() / SECOND) * SECOND;
  const clock = { now: start + 123 };
  const db = new Database(':memory:');
  db.defaultSafeIntegers(true);
  const changes = new PkiChanges();
  const credence = openCredence({ location: { memory: true }, clock: new FakeClock(new Date(start)) });
  const ca = await testCa('default', 'p256');
  const leaf = await issueCertifiedCredentialWith(credence, ca, PKI_TEST_URL, 'cred-1');
  await hooks.onceCred1Issued?.(credence);
  await credence.engine.execute(command('registerNode', { nodeId: 'meter-2', profile }, { actor: operator }));
  await credence.engine.execute(command('enrolNode', { nodeId: 'meter-2', subscriptionId: 'sub-1', cseId: '/cse-meter-2' }, { actor: operator }));
  const other = await issueCertifiedCredentialWith(credence, ca, PKI_TEST_URL, 'cred-9', 'meter-2');
  await hooks.beforeProjecting?.(credence);
  const pkiOnly = new ProjectionRunner({ db, store: credence.store, projections: [pkiProjection(changes)] });
  await pkiOnly.catchUp();
  const reads = openCommittedReadModel(db);
  const credential = await testResponder(ca);
  const responder = new OcspResponder({ reads, ca, published: new PublishedLedger(memoryPublishedRevocations()), credential: () => credential, now: () => clock.now });
  changes.subscribe({ revoked: (n) => responder.invalidate(n.serialNumber), rotationChanged: (n) => responder.invalidate(n.serialNumber), reset: () => responder.clear() });
  const publisher = new CrlPublisher({ reads, ca, urls: pkiUrls(PKI_TEST_URL, ca.id), numbers: memoryCrlNumbers(() => clock.now), published: new PublishedLedger(memoryPublishedRevocations()), now: () => clock.now });
  await publisher.start();
  return {
    clock, credence, ca, leaf, other, db, pkiOnly, reads, responder, publisher,
    close: async () => {
      publisher.stop();
      reads.close();
      db.close();
      await credence.close();
    },
  };
}

/** A CRL publisher of `ca` on `reads`, on the system clock, started for `use` alone and stopped after it. */
export async function withCrlPublisher<T>(
  on: { reads: CommittedReadModel; ca: IssuingCa; published?: PublishedLedger },
  use: (publisher: CrlPublisher) => Promise<T>,
): Promise<T> {
  const publisher = new CrlPublisher({ ...on, urls: pkiUrls(PKI_TEST_URL, on.ca.id), numbers: memoryCrlNumbers(Date.now), now: Date.now });
  try {
    await publisher.start();
    return await use(publisher);
  } finally {
    publisher.stop();
  }
}
