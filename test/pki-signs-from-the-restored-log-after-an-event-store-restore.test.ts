import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startPkiRevocation, systemRandom, type Credence, type PkiRevocation } from '../adapters/runtime/index.ts';
import { ownerView } from '../domain/ports/index.ts';
import { ocspRequest, ocspRevokedAt, ocspStatus } from './support/ocsp-client.ts';
import { crlReasonOf, dataFolderPki, PKI_TEST_URL, revocationDateOf, revokeAndSettleOn, serialsOf } from './support/pki-instance.ts';
import { copyEventStore, moveTransparencyLogAside } from './support/restored-folder.ts';
import { issueCertifiedCredentialWith, testCa, type TestLeaf } from './support/pki-test-ca.ts';

/*
 * The event store restored from a backup older than the read models: the `pki` read model's checkpoint is past the
 * restored head, and its tables hold revocations the log no longer does. Before, the signers either trusted it (a
 * revocation written after the restore, at a position the checkpoint claimed handled, was never projected: OCSP said
 * `good`) or, after a rebuild, waited forever for a position the log would never reach. Now the runner finds the read
 * model of another log, rebuilds it, and the CRLs and OCSP follow the restored log.
 *
 * A revocation the restore lost, once published on a CRL, stays published: relying parties saw it, and an entry must
 * not leave a CRL before its certificate expires (RFC 5280 5.1.2.6). Before, the next CRL dropped it and OCSP answered
 * `good` for it. Now what each CA published is kept beside its CRL numbers, listed again and reported.
 */

describe('PKI revocation after the event store is restored from an older backup', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-pki-restored-'));
  const backup = mkdtempSync(join(tmpdir(), 'credence-pki-backup-'));
  const folder = dataFolderPki(dir);
  let credence: Credence | undefined;
  let pki: PkiRevocation | undefined;
  const close = async (): Promise<void> => {
    pki?.stop();
    pki = undefined;
    await credence?.close();
    credence = undefined;
  };
  afterAll(async () => {
    await close();
    folder.se.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(backup, { recursive: true, force: true });
  });

  it('rebuilds the pki read model from the restored log, and signs what is revoked after the restore', async () => {
    const ca = await testCa('default', 'ed25519');
    credence = folder.open();
    pki = await folder.start(credence, ca);
    const leaves: TestLeaf[] = [];
    for (const id of ['cred-a', 'cred-b', 'cred-c']) leaves.push(await issueCertifiedCredentialWith(credence, ca, PKI_TEST_URL, id));
    const [a, b, c] = leaves as [TestLeaf, TestLeaf, TestLeaf];
    await revokeAndSettleOn(credence, pki, [['cred-b', 'keyCompromise']]);
    await close();
    copyEventStore(dir, backup);

    // After the backup: cred-a revoked, then lost with the restore.
    credence = folder.open();
    pki = await folder.start(credence, ca);
    await revokeAndSettleOn(credence, pki, [['cred-a', 'keyCompromise']]);
    expect(ocspStatus((await pki.ocsp('default')!.respond(await ocspRequest(a, ca))).der)).toBe('revoked');
    const revokedAtBefore = revocationDateOf((await pki.crl('default')!.delta()).der, a.serialNumber);
    expect(revokedAtBefore).toBeGreaterThan(0);
    await close();
    copyEventStore(backup, dir);
    // The transparency log has logged the lost events and would stop: moved aside to start a new one (README).
    moveTransparencyLogAside(dir, backup);

    credence = folder.open();
    // A library that starts PKI revocation without the runner that would reset the read model is refused.
    const opened = credence;
    await expect(
      startPkiRevocation({
        credence: { store: opened.store, readModels: opened.readModels, pkiChanges: opened.pkiChanges },
        cas: [ca],
        baseUrl: PKI_TEST_URL,
        se: ownerView(folder.se, 'maf:infrastructure'),
        random: systemRandom,
        now: () => Date.now(),
      }),
    ).rejects.toThrow(/^the pki read model was built from another log \(pki: the store holds no event at position \d+, which it handled last\)/);

    const reported: { caId: string; credentialIds: string[] }[] = [];
    pki = await folder.start(credence, ca, {
      onPublishedNotInLog: (caId, revocations) => reported.push({ caId, credentialIds: revocations.map((r) => r.credentialId) }),
    });
    expect((await credence.runner.checkLog()).map((o) => o.name)).toContain('pki');
    // cred-c is revoked at a position the old read model had already passed.
    await revokeAndSettleOn(credence, pki, [['cred-c', 'superseded']]);
    const responder = pki.ocsp('default')!;
    expect(ocspStatus((await responder.respond(await ocspRequest(c, ca))).der)).toBe('revoked');
    expect(ocspStatus((await responder.respond(await ocspRequest(b, ca))).der)).toBe('revoked');
    // The revocation the restore lost was published: it stays revoked, at its first time, and is reported.
    expect(ocspStatus((await responder.respond(await ocspRequest(a, ca))).der)).toBe('revoked');
    expect(ocspRevokedAt((await responder.respond(await ocspRequest(a, ca))).der)).toBe(revokedAtBefore);
    await pki.tick();
    const full = (await pki.crl('default')!.full()).der;
    expect(serialsOf(full)).toEqual([a.serialNumber, b.serialNumber, c.serialNumber].sort());
    expect(revocationDateOf(full, a.serialNumber)).toBe(revokedAtBefore);
    expect(reported).toEqual([{ caId: 'default', credentialIds: ['cred-a'] }]);
    expect(pki.crl('default')!.publishedNotInLog.map((r) => r.credentialId)).toEqual(['cred-a']);

    // Revoked again (a later second: CRL times are whole seconds), the log holds it: no longer reported, and one entry
    // at its first time and reason, on the CRLs and OCSP, in this process and after a restart reads everything again.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await revokeAndSettleOn(credence, pki, [['cred-a', 'superseded']]);
    expect(pki.crl('default')!.publishedNotInLog).toEqual([]);
    const firstTimeEverywhere = async (): Promise<void> => {
      await pki!.tick();
      const again = (await pki!.crl('default')!.full()).der;
      expect(serialsOf(again)).toEqual([a.serialNumber, b.serialNumber, c.serialNumber].sort());
      expect(revocationDateOf(again, a.serialNumber)).toBe(revokedAtBefore);
      expect(crlReasonOf(again, a.serialNumber)).toBe('keyCompromise');
      expect(ocspRevokedAt((await pki!.ocsp('default')!.respond(await ocspRequest(a, ca))).der)).toBe(revokedAtBefore);
    };
    await firstTimeEverywhere();
    await close();
    credence = folder.open();
    reported.length = 0;
    pki = await folder.start(credence, ca, {
      onPublishedNotInLog: (caId, revocations) => reported.push({ caId, credentialIds: revocations.map((r) => r.credentialId) }),
    });
    await firstTimeEverywhere();
    expect(reported).toEqual([]);
  }, 60_000);
});
