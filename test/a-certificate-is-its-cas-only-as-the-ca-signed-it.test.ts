import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCredence, systemClock, type Credence } from '../adapters/runtime/index.ts';
import { toBase64url } from '../domain/crypto/base64url.ts';
import { certificateSummary } from '../domain/x509/issuance/index.ts';
import { streamIdOf } from '../domain/streams.ts';
import { ocspRequest, ocspStatus } from './support/ocsp-client.ts';
import { PKI_TEST_URL } from './support/pki-instance.ts';
import { certifiedCredentialData, issueCertifiedCredential, pkiOf, revokeAndSettle, startPkiService, testCa, testLeaf, type TestLeaf } from './support/pki-test-ca.ts';
import type { TestService } from './support/service.ts';
import { command } from '../domain/commands/index.ts';
import { cmd, operator } from './support/fleet.ts';
import { forge } from './replay.fixtures.ts';
import type { JsonObject } from '../domain/ports/index.ts';

/*
 * `issueCredential` took any certificate summary: one naming `issuingCa` and a serial, written by hand, made the `pki`
 * read model list that serial as the CA's, so OCSP said `good` for a certificate the CA never signed, and revoking the
 * credential put that serial on the CA's signed CRL (found in review). A summary naming one of the CAs now carries its
 * DER, says what the DER says, certifies the credential's key, and (where the CAs are known) is signed by that CA.
 */
/** The issueCredential data recording `leaf` for `credentialId`, with `certificate` as given (default: the true summary). */
const issueData = (credentialId: string, leaf: TestLeaf, caId: string, certificate?: Record<string, unknown>) =>
  certifiedCredentialData(credentialId, leaf.der, caId, certificate);

describe('a certificate recorded as one of the CAs', () => {
  describe('by its own rules, on any instance', () => {
    let credence: Credence;
    let leaf: TestLeaf;
    let other: TestLeaf;
    beforeAll(async () => {
      credence = openCredence({ location: { memory: true }, clock: systemClock });
      await credence.engine.execute(cmd.registerNode('meter-1'));
      const ca = await testCa('default');
      // One validity for both: a certificate of another validity than the credential's is refused too
      // (certificate_validity), so `other` may differ from `leaf` only in its key.
      const now = Date.now();
      leaf = await testLeaf(ca, { baseUrl: PKI_TEST_URL, name: 'meter-1', now });
      other = await testLeaf(ca, { baseUrl: PKI_TEST_URL, name: 'meter-2', now });
    });
    afterAll(() => credence.close());

    const refusal = async (data: Record<string, unknown>) => {
      const error = await credence.engine.execute(command('issueCredential', data, { actor: operator })).then(
        () => undefined,
        (e: unknown) => e as { code?: string; problem?: { issues?: { path: string; message: string }[] } },
      );
      expect(await credence.store.readStream(streamIdOf('credential', String(data['credentialId'])))).toEqual([]);
      return error;
    };

    it('is refused without its DER, naming the field, and writes nothing', async () => {
      const { der: _der, ...summary } = certificateSummary(leaf.der, 'default');
      const error = await refusal(issueData('cred-no-der', leaf, 'default', summary));
      expect(error?.code).toBe('validation');
      expect(error?.problem?.issues?.map((e) => e.path)).toEqual(['data.certificate.der']);
    });

    it('is refused when the summary states another serial, validity or subject than its DER', async () => {
      const summary = certificateSummary(leaf.der, 'default');
      const error = await refusal(
        issueData('cred-forged-serial', leaf, 'default', { ...summary, serialNumber: '7f01', subject: 'CN=someone-else', notAfter: new Date(Date.now() + 900 * 86_400_000).toISOString() }),
      );
      expect(error?.code).toBe('validation');
      const issues = error?.problem?.issues ?? [];
      expect(issues.map((e) => e.path).sort()).toEqual(['data.certificate.notAfter', 'data.certificate.serialNumber', 'data.certificate.subject']);
      expect(issues.find((e) => e.path === 'data.certificate.serialNumber')?.message).toContain(summary.serialNumber);
    });

    it("is refused when its DER certifies another key than the credential's", async () => {
      const error = await refusal(issueData('cred-other-key', leaf, 'default', certificateSummary(other.der, 'default')));
      expect(error?.code).toBe('validation');
      expect(error?.problem?.issues?.map((e) => e.path)).toEqual(['data.certificate.der']);
    });

    it('is refused when the DER is not a certificate', async () => {
      const summary = certificateSummary(leaf.der, 'default');
      const error = await refusal(issueData('cred-garbage', leaf, 'default', { ...summary, der: toBase64url(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01])) }));
      expect(error?.problem?.issues?.map((e) => e.path)).toEqual(['data.certificate.der']);
    });

    it('is refused when bytes follow the certificate in its DER', async () => {
      const padded = new Uint8Array([...leaf.der, 0, 0, 0, 0]);
      const error = await refusal(issueData('cred-padded', leaf, 'default', certificateSummary(padded, 'default')));
      expect(error?.problem?.issues?.map((e) => e.path)).toEqual(['data.certificate.der']);
    });

    it('is recorded when it is what its DER says, for the key it certifies', async () => {
      const outcome = await credence.engine.execute(command('issueCredential', issueData('cred-true', leaf, 'default'), { actor: operator }));
      expect(outcome.events.map((e) => e.type)).toEqual(['CredentialIssued']);
    });
  });

  describe('through the service, whose CAs are known', () => {
    let svc: TestService;
    beforeAll(async () => {
      svc = await startPkiService('p256');
      // A node with a credential the service's CA certified, so the fleet exists.
      await issueCertifiedCredential(svc, 'cred-real');
    }, 60_000);
    afterAll(() => svc.close());

    const post = (data: Record<string, unknown>) =>
      fetch(`${svc.url}/v1/commands`, {
        method: 'POST',
        headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'issueCredential', data }),
      });

    it('refuses a certificate another key signed in the name of its CA, and OCSP still does not say good for it', async () => {
      const ca = pkiOf(svc).cas[0]!;
      // Same id, same names, another key: what anyone can make without the CA's key.
      const impostor = await testCa('default');
      const forged = await testLeaf(impostor, { baseUrl: svc.url, name: 'meter-1' });
      const response = await post(issueData('cred-forged', forged, 'default'));
      expect(response.status).toBe(400);
      const problem = (await response.json()) as { errors: { path: string; rule: string }[] };
      expect(problem.errors).toEqual([expect.objectContaining({ path: "body.data.certificate.der", rule: "signed_by_issuing_ca" })]);
      expect(await svc.service.context.credence.store.readStream('credential-cred-forged')).toEqual([]);
      const answer = await fetch(`${svc.url}/pki/default/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: Buffer.from(await ocspRequest(forged, ca)) });
      expect(ocspStatus(new Uint8Array(await answer.arrayBuffer()))).toBe('unknown');
    });

    it('refuses a certificate naming a CA the service does not hold', async () => {
      const elsewhere = await testCa('elsewhere');
      const leaf = await testLeaf(elsewhere, { baseUrl: svc.url, name: 'meter-1' });
      const response = await post(issueData('cred-elsewhere', leaf, 'elsewhere'));
      expect(response.status).toBe(400);
      const problem = (await response.json()) as { errors: { path: string; rule: string }[] };
      expect(problem.errors).toEqual([expect.objectContaining({ path: "body.data.certificate.issuingCa", rule: "issuing_ca" })]);
      expect(await svc.service.context.credence.store.readStream('credential-cred-elsewhere')).toEqual([]);
    });

    it('says revoked once any credential it was recorded for is revoked, the same certificate recorded for two', async () => {
      const ca = pkiOf(svc).cas[0]!;
      const first = await issueCertifiedCredential(svc, 'cred-twice-a');
      // The same key and certificate recorded again for another credential, as the first's owner could until SER-010
      // (keyNeverCertified, machines v4): refused now; stored as v3 stored it, behind the engine, for what follows.
      const response = await post(issueData('cred-twice-b', first, 'default'));
      expect(response.status).toBe(409);
      expect(await response.json()).toMatchObject({ rule: 'keyNeverCertified' });
      const stored = await forge(svc.service.context.credence.store, 'credential-cred-twice-b', 'CredentialIssued', issueData('cred-twice-b', first, 'default') as unknown as JsonObject, new Date().toISOString());
      if (!(await svc.service.context.live.caughtUp(stored.position, 30_000))) throw new Error('the live runtime did not catch up with the issue');
      const status = async () => {
        const answer = await fetch(`${svc.url}/pki/default/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: Buffer.from(await ocspRequest(first, ca)) });
        return ocspStatus(new Uint8Array(await answer.arrayBuffer()));
      };
      expect(await status()).toBe('good');
      await revokeAndSettle(svc, 'cred-twice-b', 'keyCompromise');
      expect(await status()).toBe('revoked');
    });

    it('answers an OCSP GET with a validator of the answer itself: after a revocation the old one is not answered 304', async () => {
      const leaf = await issueCertifiedCredential(svc, 'cred-etag');
      const url = `${svc.url}/pki/default/ocsp/${encodeURIComponent(Buffer.from(await ocspRequest(leaf, pkiOf(svc).cas[0]!)).toString('base64'))}`;
      const good = await fetch(url);
      expect(ocspStatus(new Uint8Array(await good.arrayBuffer()))).toBe('good');
      const etag = good.headers.get('etag')!;
      expect(etag).toMatch(/^".+"$/);
      // Revalidating the same answer is still a 304.
      expect((await fetch(url, { headers: { 'if-none-match': etag } })).status).toBe(304);
      await revokeAndSettle(svc, 'cred-etag', 'keyCompromise');
      const revalidated = await fetch(url, { headers: { 'if-none-match': etag } });
      expect(revalidated.status).toBe(200);
      expect(revalidated.headers.get('etag')).not.toBe(etag);
      expect(ocspStatus(new Uint8Array(await revalidated.arrayBuffer()))).toBe('revoked');
    });
  });
});
