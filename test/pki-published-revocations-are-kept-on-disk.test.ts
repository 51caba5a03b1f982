import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filePublishedRevocations, memoryPublishedRevocations, type PublishedRevocation } from '../adapters/driven/pki/published-revocations.ts';
import { memoryCrlExpiryMarks } from '../adapters/driven/pki/crl-expiry-marks.ts';
import { memoryCrlNumbers } from '../adapters/driven/pki/crl-numbers.ts';
import { openCommittedReadModel } from '../adapters/runtime/pki-committed.ts';
import { CrlPublisher } from '../adapters/runtime/pki-crl-publisher.ts';
import { DEFAULT_CRL_VALIDITY_MS } from '../adapters/runtime/pki-crl-publisher-options.ts';
import { PublicationUnrecorded, PublishedLedger } from '../adapters/runtime/pki-published.ts';
import type { Credence, PkiRevocation } from '../adapters/runtime/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { CaId, pkiUrls } from '../domain/x509/issuing-ca.ts';
import { ocspRequest, ocspStatus } from './support/ocsp-client.ts';
import { dataFolderPki, ledgerOnAFullDisk, PKI_TEST_URL, serialsOf } from './support/pki-instance.ts';
import { issueCertifiedCredentialWith, testCa } from './support/pki-test-ca.ts';
import { cmd } from './support/fleet.ts';

const revocation = (serialNumber: string, credentialId = `cred-${serialNumber}`): PublishedRevocation => ({
  serialNumber,
  credentialId,
  revokedAt: '2026-11-30T10:00:00.000Z',
  reason: 'keyCompromise',
  notAfter: '2027-11-30T10:00:00.000Z',
});

describe('the published-revocations file of a CA', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-published-'));
  const file = join(dir, 'pki', 'default.published.jsonl');
  const ca = CaId.parse('default');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps what was appended across opens, the first revocation of a serial standing', () => {
    const store = filePublishedRevocations(dir, ca);
    expect(store.load().size).toBe(0);
    store.append([revocation('01'), revocation('02')]);
    store.append([{ ...revocation('01'), reason: 'superseded' }]);
    const kept = filePublishedRevocations(dir, ca).load();
    expect([...kept.keys()]).toEqual(['01', '02']);
    expect(kept.get('01')!.reason).toBe('keyCompromise');
  });

  it('drops a line cut short by a crash, and the next append starts on a line of its own', () => {
    appendFileSync(file, '{"serialNumber":"03","credentialId":"cred-03","revokedAt":"2026-11-3');
    const store = filePublishedRevocations(dir, ca);
    expect([...store.load().keys()]).toEqual(['01', '02']);
    store.append([revocation('04')]);
    expect([...filePublishedRevocations(dir, ca).load().keys()]).toEqual(['01', '02', '04']);
  });

  it('refuses a malformed line or another CA\'s file, naming the file and the rule', () => {
    const kept = readFileSync(file, 'utf8');
    writeFileSync(file, `${kept}{"serialNumber":"80","credentialId":"cred-x","revokedAt":"2026-11-30T10:00:00.000Z","reason":"keyCompromise","notAfter":"2027-11-30T10:00:00.000Z"}\n`);
    const refusal = (): unknown => {
      try {
        filePublishedRevocations(dir, ca).load();
      } catch (error) {
        return error;
      }
      return undefined;
    };
    const malformed = refusal();
    expect(isCredenceError(malformed, 'validation')).toBe(true);
    expect((malformed as Error).message).toMatch(/published-revocations file of CA default: line 6: a serial number/);
    writeFileSync(file, kept.replace('"caId":"default"', '"caId":"other"'));
    expect((refusal() as Error).message).toMatch(/published-revocations file of CA default: it names CA other/);
    writeFileSync(file, kept);
  });

  it('is replaced whole by a forgetting, and keeps nothing else', () => {
    filePublishedRevocations(dir, ca).replace([revocation('02')]);
    expect([...filePublishedRevocations(dir, ca).load().keys()]).toEqual(['02']);
  });

  it('cuts the fragment an append that failed part-way left, before it appends again', () => {
    const store = filePublishedRevocations(dir, ca);
    store.load();
    // What a write cut short by a full disk leaves, in a process that goes on.
    appendFileSync(file, '{"serialNumber":"05","credentialId":"cr');
    store.append([revocation('06')]);
    expect([...filePublishedRevocations(dir, ca).load().keys()]).toEqual(['02', '06']);
  });

  it('reads a file of many read chunks whole, lines across their edges, and drops a torn tail past the last', () => {
    const big = mkdtempSync(join(tmpdir(), 'credence-published-big-'));
    try {
      // Some 12 MiB: lines straddle the edge of the first 8 MiB read.
      const records = Array.from({ length: 70_000 }, (_, i) => revocation((0x100000 + i).toString(16)));
      const store = filePublishedRevocations(big, ca);
      store.append(records);
      const bigFile = join(big, 'pki', 'default.published.jsonl');
      expect(readFileSync(bigFile).length).toBeGreaterThan(8 * 1024 * 1024);
      appendFileSync(bigFile, '{"serialNumber":"ffffff","credentialId":"cred');
      const kept = filePublishedRevocations(big, ca).load();
      expect(kept.size).toBe(70_000);
      expect([...kept.keys()]).toEqual(records.map((r) => r.serialNumber));
      expect(readFileSync(bigFile, 'utf8').endsWith(`${JSON.stringify(records[69_999])}\n`)).toBe(true);
    } finally {
      rmSync(big, { recursive: true, force: true });
    }
  });

  it('drops a torn tail of any length (a crash in a large append), as it drops a short one', () => {
    const kept = readFileSync(file, 'utf8');
    const serials = [...filePublishedRevocations(dir, ca).load().keys()];
    expect(serials.length).toBeGreaterThan(0);
    appendFileSync(file, Buffer.alloc(70 * 1024));
    try {
      expect([...filePublishedRevocations(dir, ca).load().keys()]).toEqual(serials);
      expect(readFileSync(file, 'utf8')).toBe(kept);
    } finally {
      writeFileSync(file, kept);
    }
  });

  it('refuses a line far longer than any record, without holding it whole', () => {
    const kept = readFileSync(file, 'utf8');
    writeFileSync(file, `${kept}{"serialNumber":"${'0'.repeat(70_000)}"}\n`);
    try {
      expect(() => filePublishedRevocations(dir, ca).load()).toThrow(/published-revocations file of CA default: line 4 is longer than 65536 bytes/);
    } finally {
      writeFileSync(file, kept);
    }
  });
});

describe('the ledger of what a CA published', () => {
  it('forgets records only once enough of them left the CRLs to be worth a rewrite', () => {
    const store = memoryPublishedRevocations();
    const ledger = new PublishedLedger(store);
    const serials = Array.from({ length: 3000 }, (_, i) => (i + 1).toString(16).padStart(4, '0'));
    ledger.record(serials.map((s) => revocation(s)));
    const first = new Set(serials.slice(0, 500));
    expect(ledger.forget(first)).toBe(0);
    expect(ledger.size).toBe(3000);
    const many = new Set(serials.slice(0, 1100));
    expect(ledger.forget([...many, 'ffff'])).toBe(1100);
    expect(ledger.size).toBe(1900);
    expect(store.load().size).toBe(1900);
    expect(ledger.get(serials[0]!)).toBeUndefined();
    expect(ledger.get(serials[2999]!)?.credentialId).toBe(`cred-${serials[2999]}`);
  });

  it('keeps nothing of a record whose write failed', () => {
    const failing = { ...memoryPublishedRevocations(), append: () => { throw new Error('disk full'); } };
    const ledger = new PublishedLedger(failing);
    expect(() => ledger.record([revocation('01')])).toThrow('disk full');
    expect(ledger.get('01')).toBeUndefined();
  });
});

describe('a CRL lists a revocation only once it is kept as published', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-published-crl-'));
  const folder = dataFolderPki(dir);
  let credence: Credence;
  let pki: PkiRevocation | undefined;
  beforeAll(() => {
    credence = folder.open();
  });
  afterAll(async () => {
    pki?.stop();
    await credence?.close();
    folder.se.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('signs no CRL listing it while the record cannot be written, serving those issued before, and lists it once it can', async () => {
    const ca = await testCa('default', 'ed25519');
    const errors: unknown[] = [];
    pki = await folder.start(credence, ca, { onError: (_component, error) => errors.push(error) });
    const leaf = await issueCertifiedCredentialWith(credence, ca, PKI_TEST_URL, 'cred-a');
    const publisher = pki.crl('default')!;
    const fullBefore = await publisher.full();
    const deltaBefore = await publisher.delta();
    // The record's file cannot be opened for appending (a folder stands at its name).
    const file = join(dir, 'pki', 'default.published.jsonl');
    expect(existsSync(file)).toBe(false);
    mkdirSync(file);
    await credence.engine.execute(cmd.revokeCredential('cred-a', 'keyCompromise'));
    await credence.settle();
    await publisher.settled();
    await pki.tick();
    expect(await publisher.delta()).toEqual(deltaBefore);
    expect(await publisher.full()).toEqual(fullBefore);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => /EISDIR/.test(String(e)))).toBe(true);
    // OCSP follows the read model.
    expect(ocspStatus((await pki.ocsp('default')!.respond(await ocspRequest(leaf, ca))).der)).toBe('revoked');

    rmSync(file, { recursive: true });
    const delta = await publisher.delta();
    expect(delta.crlNumber).toBeGreaterThan(deltaBefore.crlNumber);
    expect(serialsOf(delta.der)).toEqual([leaf.serialNumber]);
    expect(readFileSync(file, 'utf8')).toContain(`"serialNumber":"${leaf.serialNumber}","credentialId":"cred-a"`);
  }, 60_000);

  it('refuses with PublicationUnrecorded, and signs nothing, when no CRL was issued before and the record fails', async () => {
    const ca = await testCa('unrecorded', 'ed25519');
    await issueCertifiedCredentialWith(credence, ca, PKI_TEST_URL, 'cred-u1');
    await credence.engine.execute(cmd.revokeCredential('cred-u1', 'keyCompromise'));
    await credence.settle();
    const { ledger, heal } = ledgerOnAFullDisk();
    const errors: unknown[] = [];
    const reads = openCommittedReadModel(credence.readModels);
    try {
      const publisher = new CrlPublisher({
        reads, ca, urls: pkiUrls(PKI_TEST_URL, ca.id), numbers: memoryCrlNumbers(() => Date.now()), now: () => Date.now(), published: ledger,
        onError: (error) => errors.push(error),
      });
      await publisher.start();
      await expect(publisher.full()).rejects.toBeInstanceOf(PublicationUnrecorded);
      await expect(publisher.delta()).rejects.toThrow(/^revocations could not be recorded as published \(ENOSPC/);
      expect(errors.length).toBeGreaterThan(0);
      heal();
      expect(serialsOf((await publisher.full()).der)).toHaveLength(1);
      expect(ledger.size).toBe(1);
    } finally {
      reads.close();
    }
  }, 60_000);

  it('neither lists nor reports, start after start, a published revocation whose entry left the CRLs for good', async () => {
    const ca = await testCa('expired', 'ed25519');
    const ledger = new PublishedLedger(memoryPublishedRevocations());
    ledger.record([revocation('7f02', 'cred-left'), revocation('7f03', 'cred-listed')]);
    // cred-left's entry was first listed beyond its expiry more than one CRL validity ago (crl-expiry-marks.ts).
    const marks = memoryCrlExpiryMarks();
    marks.save(new Map([['7f02', Date.now() - DEFAULT_CRL_VALIDITY_MS - 60_000]]));
    const reported: string[][] = [];
    const reads = openCommittedReadModel(credence.readModels);
    try {
      for (let start = 0; start < 2; start++) {
        const publisher = new CrlPublisher({
          reads, ca, urls: pkiUrls(PKI_TEST_URL, ca.id), numbers: memoryCrlNumbers(() => Date.now()), now: () => Date.now(), published: ledger, marks,
          onPublishedNotInLog: (revocations) => reported.push(revocations.map((r) => r.credentialId)),
        });
        await publisher.start();
        expect(serialsOf((await publisher.full()).der)).toEqual(['7f03']);
        expect(publisher.publishedNotInLog.map((r) => r.credentialId)).toEqual(['cred-listed']);
      }
      expect(reported).toEqual([['cred-listed'], ['cred-listed']]);
    } finally {
      reads.close();
    }
  }, 60_000);

  it('reads a list longer than one page whole before it says what the log lacks', async () => {
    const ca = await testCa('paged', 'ed25519');
    for (const id of ['cred-p1', 'cred-p2', 'cred-p3']) await issueCertifiedCredentialWith(credence, ca, PKI_TEST_URL, id);
    for (const id of ['cred-p1', 'cred-p2', 'cred-p3']) await credence.engine.execute(cmd.revokeCredential(id, 'superseded'));
    await credence.settle();
    const ledger = new PublishedLedger(memoryPublishedRevocations());
    ledger.record([revocation('7f01', 'cred-lost')]);
    const reported: string[][] = [];
    const reads = openCommittedReadModel(credence.readModels);
    try {
      const publisher = new CrlPublisher({
        reads, ca, urls: pkiUrls(PKI_TEST_URL, ca.id), numbers: memoryCrlNumbers(() => Date.now()), now: () => Date.now(), published: ledger, readPage: 1,
        onPublishedNotInLog: (revocations) => reported.push(revocations.map((r) => r.credentialId)),
      });
      await publisher.start();
      expect(serialsOf((await publisher.full()).der)).toHaveLength(4);
      expect(reported).toEqual([['cred-lost']]);
      expect(ledger.size).toBe(4);
    } finally {
      reads.close();
    }
  }, 60_000);
});
