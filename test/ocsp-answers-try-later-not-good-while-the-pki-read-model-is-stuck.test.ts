import * as pkijs from 'pkijs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { command } from '../domain/commands/index.ts';
import { ocspRequest, ocspStatus } from './support/ocsp-client.ts';
import { pkiOf, issueCertifiedCredential, startPkiService } from './support/pki-test-ca.ts';
import type { TestService } from './support/service.ts';

/*
 * Review 110: the `pki` read model's completeness was asked against a floor fixed at start and by a rebuild only. A
 * `pki` projection stuck while the service ran (a full disk under readmodels.db, a lock another process holds) left a
 * revocation stored and acknowledged while OCSP signed `good` for it, valid an hour, and the CRLs left it out. A `pki`
 * event the read model has not reached 2 s after the store delivered it now stops the signing: OCSP `tryLater`, the
 * CRLs issued before, until the read model reaches it.
 */
describe('OCSP while the pki read model is stuck', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startPkiService('p256');
  }, 60_000);
  afterAll(async () => {
    await svc?.close();
  });

  const ocsp = async (request: Uint8Array): Promise<{ status: number; answer: string }> => {
    const reply = await fetch(`${svc.url}/pki/default/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: request });
    const der = new Uint8Array(await reply.arrayBuffer());
    // RFC 6960 4.2.1 responseStatus: 0 successful, 3 tryLater.
    const responseStatus = pkijs.OCSPResponse.fromBER(der).responseStatus.valueBlock.valueDec;
    return { status: reply.status, answer: responseStatus === 0 ? ocspStatus(der) : responseStatus === 3 ? 'tryLater' : `status ${responseStatus}` };
  };

  it('answers tryLater, not good, for a certificate revoked while the read model cannot record it, and revoked once it can', async () => {
    const leaf = await issueCertifiedCredential(svc, 'cred-a', 'meter-1');
    const request = await ocspRequest(leaf, pkiOf(svc).cas[0]!);
    await vi.waitFor(async () => expect((await ocsp(request)).answer).toBe('good'), { timeout: 10_000 });

    const readModels = svc.service.context.credence.readModels;
    // What a full disk does to the projection's write: the revocation is stored, its read-model row refused.
    readModels.exec("CREATE TEMP TRIGGER zz_full BEFORE INSERT ON main.pki_revocations BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END");
    try {
      await svc.service.context.credence.engine.execute(
        command('revokeCredential', { credentialId: 'cred-a', reason: 'keyCompromise' }, { actor: { id: 'test-operator', role: 'operator' } }),
      );
      await vi.waitFor(async () => expect((await ocsp(request)).answer).toBe('tryLater'), { timeout: 15_000, interval: 250 });
    } finally {
      readModels.exec('DROP TRIGGER zz_full');
    }
    await vi.waitFor(async () => expect((await ocsp(request)).answer).toBe('revoked'), { timeout: 30_000, interval: 250 });
  }, 60_000);
});
