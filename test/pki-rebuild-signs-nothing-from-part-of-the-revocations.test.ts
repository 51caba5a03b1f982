import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as pkijs from 'pkijs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryCrlNumbers } from '../adapters/driven/pki/crl-numbers.ts';
import { READ_MODELS_DB_FILE } from '../adapters/driven/readmodels/index.ts';
import { PkiIncomplete, type Credence, type PkiRevocation } from '../adapters/runtime/index.ts';
import { openCommittedReadModel, type CommittedReadModel } from '../adapters/runtime/pki-committed.ts';
import { CrlPublisher } from '../adapters/runtime/pki-crl-publisher.ts';
import type { EventStore, ReadAllOptions, RecordedEvent } from '../domain/ports/index.ts';
import { pkiUrls, type IssuingCa } from '../domain/x509/issuing-ca.ts';
import { certificateStanding, PKI_PROJECTION, pkiProjection } from '../projections/pki/index.ts';
import { deleteCheckpoint } from '../projections/runtime/checkpoints.ts';
import { ProjectionRunner } from '../projections/runtime/index.ts';
import { ocspRequest, ocspStatus } from './support/ocsp-client.ts';
import { closePkiInstance, crlNumberOf, dataFolderPki, PKI_TEST_URL, revokeAndSettleOn, serialsOf } from './support/pki-instance.ts';
import { issueCertifiedCredential, issueCertifiedCredentialWith, pkiOf, revokeAndSettle, startPkiService, testCa, type TestLeaf } from './support/pki-test-ca.ts';
import { withoutSyncPages } from './support/sync-pages.ts';
import type { TestService } from './support/service.ts';

/*
 * A rebuild empties the `pki` read model and projects it again from position 0. Meanwhile it holds part of the
 * revocations: a CRL signed from it would leave the others out, and OCSP would answer `good` for a certificate whose
 * issuance is back and whose revocation is not yet. Nothing is signed from it until it is whole again
 * (adapters/runtime/pki-complete.ts): the CRLs issued before are served, OCSP answers `tryLater` (RFC 6960 2.3), and
 * a publisher with no CRL yet answers 503.
 */

/** The store as a catch-up reads it, ending before `position`: a rebuild that has not got that far yet. */
const endingBefore = (store: EventStore, position: bigint): EventStore => ({
  ...withoutSyncPages(store),
  async *readAll(options?: ReadAllOptions): AsyncGenerator<RecordedEvent> {
    for await (const record of store.readAll(options)) {
      if (record.position >= position) return;
      yield record;
    }
  },
});

/** What `runner.rebuild` does first: the read model emptied and its checkpoint deleted, in one transaction. */
const beginRebuild = (credence: Credence): void => {
  const db = credence.readModels;
  db.transaction(() => {
    pkiProjection(credence.pkiChanges).reset(db);
    deleteCheckpoint(db, PKI_PROJECTION);
  })();
};

const firstRevocationPosition = async (store: EventStore): Promise<bigint> => {
  for await (const record of store.readAll({ filter: { eventTypes: ['CredentialRevoked'] } })) return record.position;
  throw new Error('no revocation stored');
};

/** A data folder with four certified credentials of one CA, those `revoked` revoked and on its CRLs. */
const withFourCertificates = (prefix: string, revoked: readonly (readonly [credentialId: string, reason: string])[]) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const folder = dataFolderPki(dir);
  const t = { leaves: [] as TestLeaf[] } as { credence: Credence; pki: PkiRevocation; ca: IssuingCa; leaves: TestLeaf[] };
  beforeAll(async () => {
    t.credence = folder.open();
    t.ca = await testCa('default', 'ed25519');
    t.pki = await folder.start(t.credence, t.ca);
    for (const id of ['cred-a', 'cred-b', 'cred-c', 'cred-d']) t.leaves.push(await issueCertifiedCredentialWith(t.credence, t.ca, PKI_TEST_URL, id));
    await revokeAndSettleOn(t.credence, t.pki, revoked);
  }, 60_000);
  afterAll(() => closePkiInstance({ pki: t.pki, credence: t.credence, se: folder.se, dir }));
  return t;
};

describe('a pki read model being rebuilt (library)', () => {
  const t = withFourCertificates('credence-pki-partial-', [['cred-a', 'keyCompromise'], ['cred-b', 'unspecified'], ['cred-c', 'superseded']]);

  it('serves the CRLs issued before, answers OCSP tryLater, and signs again once the read model is whole', async () => {
    const publisher = t.pki.crl('default')!;
    const responder = t.pki.ocsp('default')!;
    const fullBefore = await publisher.full();
    const deltaBefore = await publisher.delta();
    const revoked = await ocspRequest(t.leaves[0]!, t.ca);
    const good = await ocspRequest(t.leaves[3]!, t.ca);
    expect(ocspStatus((await responder.respond(revoked)).der)).toBe('revoked');
    expect(serialsOf(fullBefore.der)).toHaveLength(3);

    // The rebuild has re-projected every issuance and no revocation yet.
    beginRebuild(t.credence);
    const partial = new ProjectionRunner({ db: t.credence.readModels, store: endingBefore(t.credence.store, await firstRevocationPosition(t.credence.store)), projections: [pkiProjection(t.credence.pkiChanges)] });
    await partial.catchUp();
    // What the read model says now, and what must not be signed: the revoked certificate is `good` there.
    expect(certificateStanding(t.credence.readModels, 'default', t.leaves[0]!.serialNumber).status).toBe('good');

    for (const request of [revoked, good]) {
      const answer = await responder.respond(request);
      expect(answer.outcome).toBe('tryLater');
      expect(answer.cacheable).toBe(false);
      expect(answer.reason).toMatch(/^the pki read model holds part of the revocations \(projected to position \d+ of \d+\)/);
    }
    expect(await publisher.full()).toEqual(fullBefore);
    expect(await publisher.delta()).toEqual(deltaBefore);
    await t.pki.tick();
    expect((await publisher.full()).crlNumber).toBe(fullBefore.crlNumber);

    // The rest of the log: whole again, and signing from it.
    await t.credence.runner.catchUp(PKI_PROJECTION);
    expect(ocspStatus((await responder.respond(revoked)).der)).toBe('revoked');
    expect(ocspStatus((await responder.respond(good)).der)).toBe('good');
    const fullAfter = await publisher.full();
    expect(serialsOf(fullAfter.der)).toEqual(serialsOf(fullBefore.der));
    expect(crlNumberOf(fullAfter.der)).toBeGreaterThan(fullBefore.crlNumber);
  });

  it('refuses with PkiIncomplete, naming how far the rebuild is, when no CRL was issued before it began', async () => {
    const reached = t.credence.runner.checkpoint(PKI_PROJECTION);
    expect(reached).toBeDefined();
    beginRebuild(t.credence);
    const reads = openCommittedReadModel(t.credence.readModels);
    try {
      const fresh = new CrlPublisher({ reads, ca: t.ca, urls: pkiUrls(PKI_TEST_URL, t.ca.id), numbers: memoryCrlNumbers(() => Date.now()), now: () => Date.now() });
      await fresh.start();
      const refused = await fresh.full().catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(PkiIncomplete);
      expect(refused).toMatchObject({ code: 'pki_incomplete', position: undefined });
      expect((refused as PkiIncomplete).until).toBe(reached);
      await expect(fresh.delta()).rejects.toBeInstanceOf(PkiIncomplete);

      // A rebuild started again before the first one ended must still reach the first one's position.
      const until = (refused as PkiIncomplete).until;
      beginRebuild(t.credence);
      await expect(fresh.full()).rejects.toMatchObject({ until });

      await t.credence.runner.catchUp(PKI_PROJECTION);
      expect(serialsOf((await fresh.full()).der)).toHaveLength(3);
    } finally {
      reads.close();
    }
  });
});

describe('a rebuild begun while the CRL publisher reads (library)', () => {
  const t = withFourCertificates('credence-pki-reset-mid-read-', [['cred-a', 'keyCompromise'], ['cred-b', 'unspecified']]);

  it('signs nothing from what it read just before the tables were emptied', async () => {
    const committed = openCommittedReadModel(t.credence.readModels);
    // The rebuild's reset lands after the read, before the publisher has used what it read.
    let afterRead: (() => void) | undefined;
    const reads: CommittedReadModel = {
      mode: committed.mode,
      uncommittedPkiWrites: () => committed.uncommittedPkiWrites(),
      close: () => committed.close(),
      async read(query) {
        const value = await committed.read(query);
        const then = afterRead;
        afterRead = undefined;
        then?.();
        return value;
      },
    };
    const numbers = memoryCrlNumbers(() => Date.now());
    const signed: number[] = [];
    const fresh = new CrlPublisher({
      reads, ca: t.ca, urls: pkiUrls(PKI_TEST_URL, t.ca.id), now: () => Date.now(),
      numbers: { next: () => { const n = numbers.next(); signed.push(n); return n; } },
    });
    const unsubscribe = t.credence.pkiChanges.subscribe({ revoked: () => undefined, reset: () => fresh.reset() });
    try {
      await fresh.start();
      await revokeAndSettleOn(t.credence, t.pki, [['cred-c', 'superseded']]);
      // On a delta: the complete CRL is due again, and cred-d, revoked next, is on no CRL yet.
      expect(serialsOf((await fresh.delta()).der)).toHaveLength(1);
      await revokeAndSettleOn(t.credence, t.pki, [['cred-d', 'keyCompromise']]);
      const before = signed.length;

      afterRead = () => beginRebuild(t.credence);
      await fresh.full();
      // The log held cred-d when the read model was last whole: a CRL signed now without it would say it is not revoked.
      expect(signed).toHaveLength(before);

      await t.credence.runner.catchUp(PKI_PROJECTION);
      expect(serialsOf((await fresh.full()).der)).toHaveLength(4);
    } finally {
      unsubscribe();
      fresh.stop();
      committed.close();
    }
  });
});

describe('a pki read model behind the log when PKI publishing starts (library)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-pki-behind-'));
  const folder = dataFolderPki(dir);
  const se = folder.se;
  let credence: Credence | undefined;
  let pki: PkiRevocation | undefined;
  let ca: IssuingCa;
  const leaves: TestLeaf[] = [];

  beforeAll(async () => {
    credence = folder.open();
    ca = await testCa('default', 'ed25519');
    pki = await folder.start(credence, ca);
    for (const id of ['cred-a', 'cred-b']) leaves.push(await issueCertifiedCredentialWith(credence, ca, PKI_TEST_URL, id));
    await revokeAndSettleOn(credence, pki, [['cred-a', 'keyCompromise']]);
    pki.stop();
    await credence.close();
    // Deleted to be rebuilt at the next start (docs/pki.md), whose catch-up then stops part-way.
    for (const suffix of ['', '-wal', '-shm']) rmSync(join(dir, READ_MODELS_DB_FILE + suffix), { force: true });
    credence = folder.open();
    await new ProjectionRunner({ db: credence.readModels, store: endingBefore(credence.store, await firstRevocationPosition(credence.store)), projections: [pkiProjection()] }).catchUp();
    pki = await folder.start(credence, ca);
  }, 60_000);
  afterAll(() => closePkiInstance({ pki, credence, se, dir }));

  it('signs nothing until the read model has caught up with the log as it was when publishing started', async () => {
    const c = credence!;
    const revoked = await ocspRequest(leaves[0]!, ca);
    // What the read model says: the revoked certificate is `good` there, and no revocation is on record.
    expect(certificateStanding(c.readModels, 'default', leaves[0]!.serialNumber).status).toBe('good');
    const answer = await pki!.ocsp('default')!.respond(revoked);
    expect(answer.outcome).toBe('tryLater');
    const refused = await pki!.crl('default')!.full().catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(PkiIncomplete);
    expect((refused as PkiIncomplete).until).toBe(await firstRevocationPosition(c.store));
    expect((refused as PkiIncomplete).position).toBeLessThan((refused as PkiIncomplete).until);

    await c.settle();
    expect(ocspStatus((await pki!.ocsp('default')!.respond(revoked)).der)).toBe('revoked');
    expect(serialsOf((await pki!.crl('default')!.full()).der)).toEqual([leaves[0]!.serialNumber.toLowerCase()]);
  });
});

describe('a pki read model being rebuilt (HTTP)', () => {
  let svc: TestService;
  let leaf: TestLeaf;
  beforeAll(async () => {
    svc = await startPkiService('p256');
    leaf = await issueCertifiedCredential(svc, 'cred-1');
    await revokeAndSettle(svc, 'cred-1');
  }, 60_000);
  afterAll(() => svc?.close());

  it('serves the CRL issued before, answers OCSP tryLater, and a publisher without a CRL 503 with Retry-After', async () => {
    const { credence } = svc.service.context;
    const before = await fetch(`${svc.url}/pki/default/crl`);
    expect(before.status).toBe(200);
    const crlBefore = new Uint8Array(await before.arrayBuffer());
    const reached = svc.service.context.credence.runner.checkpoint(PKI_PROJECTION);
    // Nothing follows the store meanwhile: the rebuild stays where the test leaves it.
    await svc.service.context.live.stop();
    beginRebuild(credence);

    const during = await fetch(`${svc.url}/pki/default/crl`);
    expect(during.status).toBe(200);
    expect(new Uint8Array(await during.arrayBuffer())).toEqual(crlBefore);
    const ca = pkiOf(svc).cas[0]!;
    const ocsp = await fetch(`${svc.url}/pki/default/ocsp`, {
      method: 'POST',
      headers: { 'content-type': 'application/ocsp-request' },
      body: Buffer.from(await ocspRequest(leaf, ca)),
    });
    expect(ocsp.status).toBe(200);
    expect(ocsp.headers.get('cache-control')).toBe('no-store');
    // OCSPResponseStatus tryLater (3), unsigned: RFC 6960 2.3.
    expect(pkijs.OCSPResponse.fromBER(new Uint8Array(await ocsp.arrayBuffer())).responseStatus.valueBlock.valueDec).toBe(3);

    const reads = openCommittedReadModel(credence.readModels);
    const current = svc.service.context.pkiRevocation!.current!;
    const fresh = new CrlPublisher({ reads, ca, urls: pkiUrls(svc.url, ca.id), numbers: memoryCrlNumbers(() => Date.now()), now: () => Date.now() });
    svc.service.context.pkiRevocation!.current = { ...current, crl: () => fresh };
    try {
      const refused = await fetch(`${svc.url}/pki/default/delta-crl`);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      const problem = (await refused.json()) as Record<string, unknown>;
      expect(problem).toMatchObject({ status: 503, type: expect.stringMatching(/pki_incomplete$/), until: String(reached) });
      expect(String(problem['detail'])).toMatch(/holds part of the revocations/);
    } finally {
      svc.service.context.pkiRevocation!.current = current;
      reads.close();
    }
  });
});
