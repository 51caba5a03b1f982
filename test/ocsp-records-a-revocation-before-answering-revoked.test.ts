import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filePublishedRevocations, memoryPublishedRevocations } from '../adapters/driven/pki/published-revocations.ts';
import { openCredence, systemClock, type Credence, type PkiRevocation } from '../adapters/runtime/index.ts';
import { PublishedLedger } from '../adapters/runtime/pki-published.ts';
import { cmd } from './support/fleet.ts';
import { ocspRequest, ocspRevokedAt, ocspStatus } from './support/ocsp-client.ts';
import { dataFolderPki, ledgerOnAFullDisk, ocspResponderOver, PKI_TEST_URL, serialsOf } from './support/pki-instance.ts';
import { issueCertifiedCredentialWith, testCa } from './support/pki-test-ca.ts';
import { copyEventStore, moveTransparencyLogAside } from './support/restored-folder.ts';

/*
 * OCSP answers from the `pki` read model as soon as a revocation is committed there; the CRL publisher records it as
 * published a moment later, when it reads it. A restore of the event log inside that moment lost the revocation, and
 * OCSP, having said `revoked`, said `good` again. Now the responder records what it answers `revoked` before it signs.
 */

describe('an OCSP answer of revoked is recorded as published before it is signed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-ocsp-records-'));
  const backup = mkdtempSync(join(tmpdir(), 'credence-ocsp-records-backup-'));
  const folder = dataFolderPki(dir);
  let credence: Credence | undefined;
  let pki: PkiRevocation | undefined;
  afterAll(async () => {
    pki?.stop();
    await credence?.close();
    folder.se.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(backup, { recursive: true, force: true });
  });

  it('stays revoked on OCSP and the CRLs after a restore lost a revocation no CRL had listed yet', async () => {
    const ca = await testCa('default', 'ed25519');
    credence = folder.open();
    const leaf = await issueCertifiedCredentialWith(credence, ca, PKI_TEST_URL, 'cred-a');
    await credence.settle();
    await credence.close();
    copyEventStore(dir, backup);

    // Revoked after the backup, and answered by OCSP before any CRL publisher read it (none runs here).
    credence = folder.open();
    await credence.engine.execute(cmd.revokeCredential('cred-a', 'keyCompromise'));
    await credence.settle();
    const answering = await ocspResponderOver(credence, ca, new PublishedLedger(filePublishedRevocations(dir, ca.id)));
    const answered = (await answering.responder.respond(await ocspRequest(leaf, ca))).der;
    answering.close();
    expect(ocspStatus(answered)).toBe('revoked');
    await credence.close();
    credence = undefined;

    copyEventStore(backup, dir);
    moveTransparencyLogAside(dir, backup);
    credence = folder.open();
    const reported: string[] = [];
    pki = await folder.start(credence, ca, { onPublishedNotInLog: (_caId, revocations) => reported.push(...revocations.map((r) => r.credentialId)) });
    // The read model is rebuilt from the restored log first (until then OCSP answers tryLater).
    await credence.settle();
    const again = (await pki.ocsp('default')!.respond(await ocspRequest(leaf, ca))).der;
    expect(ocspStatus(again)).toBe('revoked');
    expect(ocspRevokedAt(again)).toBe(ocspRevokedAt(answered));
    expect(serialsOf((await pki.crl('default')!.full()).der)).toEqual([leaf.serialNumber]);
    expect(reported).toEqual(['cred-a']);
  }, 60_000);
});

describe('what an OCSP answer of revoked records, and when it cannot', () => {
  let opened: Credence;
  beforeAll(() => {
    opened = openCredence({ location: { memory: true }, clock: systemClock });
  });
  afterAll(() => opened.close());

  it('still answers revoked when the record cannot be written, reports it once, and records it at a later request', async () => {
    const ca = await testCa('unwritable', 'ed25519');
    const leaf = await issueCertifiedCredentialWith(opened, ca, PKI_TEST_URL, 'cred-u');
    await opened.engine.execute(cmd.revokeCredential('cred-u', 'keyCompromise'));
    await opened.settle();
    const { ledger, heal } = ledgerOnAFullDisk();
    const errors: unknown[] = [];
    const answering = await ocspResponderOver(opened, ca, ledger, { errors });
    try {
      const request = await ocspRequest(leaf, ca);
      const unrecorded = await answering.responder.respond(request);
      expect(ocspStatus(unrecorded.der)).toBe('revoked');
      // Not for HTTP caches either: the next request must reach the responder, which records it then.
      expect(unrecorded.cacheable).toBe(false);
      expect(ocspStatus((await answering.responder.respond(request)).der)).toBe('revoked');
      expect(errors.map(String)).toEqual(['Error: ENOSPC: no space left on device']);
      expect(ledger.size).toBe(0);
      heal();
      // Not answered from a cache: the request reads and records again.
      expect(ocspStatus((await answering.responder.respond(request)).der)).toBe('revoked');
      expect(ledger.get(leaf.serialNumber)).toMatchObject({ credentialId: 'cred-u', reason: 'keyCompromise' });
    } finally {
      answering.close();
    }
  }, 60_000);

  it('records nothing for a certificate past its notAfter: its entry leaves the CRLs, and nothing makes it valid again', async () => {
    const ca = await testCa('expired', 'ed25519');
    const day = 24 * 3600 * 1000;
    const leaf = await issueCertifiedCredentialWith(opened, ca, PKI_TEST_URL, 'cred-e', 'meter-1', { validityMs: day });
    await opened.engine.execute(cmd.revokeCredential('cred-e', 'keyCompromise'));
    await opened.settle();
    const ledger = new PublishedLedger(memoryPublishedRevocations());
    // Past the certificate's end, within its CA's and its responder certificate's: no answer is signed past those (review 124).
    const answering = await ocspResponderOver(opened, ca, ledger, { now: () => Date.now() + 2 * day });
    try {
      expect(ocspStatus((await answering.responder.respond(await ocspRequest(leaf, ca))).der)).toBe('revoked');
      expect(ledger.size).toBe(0);
    } finally {
      answering.close();
    }
  }, 60_000);
});
