import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ocspRequest, ocspStatus } from './support/ocsp-client.ts';
import { serialsOf } from './support/pki-instance.ts';
import { issueCertifiedCredential, pkiOf, revokeAndSettle, startPkiService } from './support/pki-test-ca.ts';
import { copyEventStore, moveTransparencyLogAside } from './support/restored-folder.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * `credence serve` after events.db was restored from a backup older than a CRL it served: the revocation the restore
 * lost stays on the CRL served at the distribution point and `revoked` over HTTP OCSP, and the log names the
 * credential to revoke again. Before, the CRL dropped it and OCSP answered `good`.
 */

describe('the service keeps a published revocation the restored event store lost', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-serve-published-'));
  const backup = mkdtempSync(join(tmpdir(), 'credence-serve-published-backup-'));
  let svc: TestService | undefined;
  afterAll(async () => {
    await svc?.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(backup, { recursive: true, force: true });
  });

  const crlSerials = async (s: TestService): Promise<string[]> =>
    serialsOf(new Uint8Array(await (await fetch(`${s.url}/pki/default/crl`)).arrayBuffer()));
  const ocspOverHttp = async (s: TestService, request: Uint8Array): Promise<string> => {
    const reply = await fetch(`${s.url}/pki/default/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: request });
    return ocspStatus(new Uint8Array(await reply.arrayBuffer()));
  };

  it('lists it on the CRL, answers revoked on OCSP, and warns with the credential to revoke again', async () => {
    svc = await startPkiService('p256', { dir });
    const leaf = await issueCertifiedCredential(svc, 'cred-lost');
    const ca = pkiOf(svc).cas[0]!;
    await svc.close();
    copyEventStore(dir, backup);

    svc = await startTestService({ dir });
    await revokeAndSettle(svc, 'cred-lost', 'keyCompromise');
    expect(await crlSerials(svc)).toEqual([leaf.serialNumber]);
    await svc.close();
    copyEventStore(backup, dir);
    moveTransparencyLogAside(dir, backup);

    svc = await startTestService({ dir });
    const warning = svc
      .logs()
      .map((l) => JSON.parse(l) as { level: number; msg: string; caId?: string; credentials?: { credentialId: string; serialNumber: string }[] })
      // The one naming credentials: a restart on another port also warns, for the default CA, that certificates name the first.
      .find((l) => l.level === 40 && l.caId === 'default' && l.credentials !== undefined);
    expect(warning?.msg).toMatch(/^CA default published 1 revocation\(s\) the event log does not hold/);
    expect(warning?.credentials).toEqual([{ credentialId: 'cred-lost', serialNumber: leaf.serialNumber }]);
    expect(await crlSerials(svc)).toEqual([leaf.serialNumber]);
    expect(await ocspOverHttp(svc, await ocspRequest(leaf, ca))).toBe('revoked');
  }, 90_000);
});
