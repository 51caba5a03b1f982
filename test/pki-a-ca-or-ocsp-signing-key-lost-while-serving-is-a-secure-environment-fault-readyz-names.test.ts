import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caFilePath } from '../adapters/driven/pki/index.ts';
import { certificateToIssue } from '../adapters/protocols/enrolment/certificate-issuance.ts';
import { systemRandom } from '../adapters/runtime/index.ts';
import { toBase64url } from '../domain/crypto/index.ts';
import { buildCertificationRequest, nodeSubject, nodeUris } from '../domain/x509/issuance/index.ts';
import { mapError } from '../adapters/http/problems.ts';
import { keyGoneAt } from '../adapters/protocols/shared/key-gone.ts';
import { isCredenceError } from '../domain/errors.ts';
import type { KeyHandle } from '../domain/ports/index.ts';
import { ocspRequest } from './support/ocsp-client.ts';
import { issueCertifiedCredential, pkiOf, revokeAndSettle, startPkiService, testSigner } from './support/pki-test-ca.ts';
import type { TestService } from './support/service.ts';

/*
 * Review 332, finding 1: a CA's private key or its OCSP responder key deleted from the Secure Environment while the
 * service runs. /readyz stayed 200 through every CRL that failed, a provisioning receipt that needed the CA answered a
 * bare 500 ("a key of this service is missing (key_…)", naming neither the CA nor its file nor the remedy), and an OCSP
 * responder key gone answered internalError to every request until a restart. Now a missing CA key is a Secure
 * Environment fault with its own reason, `ca_signing_key_missing` (503, naming the CA, its file and the remedy in the
 * message), /readyz is 503 with that reason until the key is found again, and a lost OCSP signer is replaced mid-run as
 * at a start, with a warning.
 */
describe('a CA or OCSP signing key lost from the Secure Environment while the service runs', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startPkiService('p256');
  }, 60_000);
  afterAll(async () => svc?.close());

  const readyz = async () => {
    const reply = await fetch(`${svc.url}/readyz`);
    return { status: reply.status, body: (await reply.json()) as Record<string, unknown> };
  };
  /** The service's own Secure Environment, as the infrastructure (the CA keys' owner) holds it. */
  const infrastructureSe = async () => (await svc.service.context.credence.security()).infrastructure.signing.se;
  const ocspPost = async (body: Uint8Array) =>
    fetch(`${svc.url}/pki/default/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: Buffer.from(body) });
  const responseStatus = (der: Uint8Array): number => der[der[1]! < 0x80 ? 4 : 4 + (der[1]! & 0x7f)]!;

  it('replaces an OCSP responder key deleted under it, with a warning, and stays ready', async () => {
    const leaf = await issueCertifiedCredential(svc, 'cred-ocsp');
    const ca = pkiOf(svc).cas[0]!;
    const first = new Uint8Array(await (await ocspPost(await ocspRequest(leaf, ca))).arrayBuffer());
    expect(responseStatus(first)).toBe(0);
    const signerFile = join(svc.dir, 'pki', 'default.ocsp.json');
    const handle = (JSON.parse(readFileSync(signerFile, 'utf8')) as { keyHandle: KeyHandle }).keyHandle;
    await (await infrastructureSe()).destroy(handle);

    // Asked with a nonce-free request again: not the cached answer (a revocation drops it) but a fresh signature.
    await revokeAndSettle(svc, 'cred-ocsp', 'superseded');
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push(responseStatus(new Uint8Array(await (await ocspPost(await ocspRequest(leaf, ca))).arrayBuffer())));
    // At most the answer that met the loss is internalError (2); the next is signed by the new responder key.
    expect(statuses.at(-1)).toBe(0);
    expect(statuses.filter((s) => s !== 0).length).toBeLessThanOrEqual(1);
    const replaced = (JSON.parse(readFileSync(signerFile, 'utf8')) as { keyHandle: KeyHandle }).keyHandle;
    expect(replaced).not.toBe(handle);
    expect(svc.logs().some((line) => line.includes('"level":40') && line.includes(handle) && line.includes('a new OCSP signer was issued'))).toBe(true);
    expect((await readyz()).status).toBe(200);
  }, 60_000);

  it('refuses what needs a CA key deleted under it as ca_signing_key_missing, naming the CA, its file and the remedy, and /readyz says so', async () => {
    expect((await readyz()).status).toBe(200);
    const ca = pkiOf(svc).cas[0]!;
    const certified = await issueCertifiedCredential(svc, 'cred-crl');
    const handle = (JSON.parse(readFileSync(caFilePath(svc.dir, 'default'), 'utf8')) as { keyHandle: KeyHandle }).keyHandle;
    await (await infrastructureSe()).destroy(handle);

    // What the provisioning receipt meets when it has the node's certificate signed (certificate-issuance.ts).
    const node = { nodeId: 'meter-late', cseId: '/cse-meter-late' };
    const key = testSigner('p256');
    const csr = await buildCertificationRequest({ key: { kind: 'p256', bytes: key.publicKey }, subject: nodeSubject(node.nodeId).name, uris: nodeUris(node), sign: key.sign });
    const now = Math.floor(Date.now() / 1000) * 1000;
    const toIssue = certificateToIssue({ issuingCa: () => ca, baseUrl: () => svc.url }, systemRandom, {
      csr: toBase64url(csr),
      credentialKey: { kind: 'p256', bytes: key.publicKey },
      nodeId: node.nodeId,
      serviceParameters: { cseId: node.cseId, m2mSubId: 'sub-1' },
      validity: { notBefore: new Date(now).toISOString(), notAfter: new Date(now + 86_400_000).toISOString() },
    });
    const refused: unknown = await toIssue!.issue().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isCredenceError(refused, 'secure_environment_unavailable'), String(refused)).toBe(true);
    if (!isCredenceError(refused) || refused.problem.code !== 'secure_environment_unavailable') return;
    expect(refused.problem.reason).toBe('ca_signing_key_missing');
    expect(refused.message).toContain('CA default');
    expect(refused.message).toContain('pki/default.ca.json');
    expect(refused.message).toMatch(/restore the Secure Environment from a backup that holds the key/);
    // The session table passes it on as it is (not a 500 naming a bare handle), and it is answered 503.
    const answered = keyGoneAt('provisioning.receipt', refused, []);
    expect(answered).toBe(refused);
    expect(mapError(answered).status).toBe(503);

    const unready = await readyz();
    expect(unready.status).toBe(503);
    expect(unready.body).toMatchObject({ check: 'secure_environment', reason: 'ca_signing_key_missing' });
    expect(JSON.stringify(unready.body)).not.toContain(handle);
    // A revocation after the loss: its delta CRL cannot be signed; the CRL issued before is served while valid, the
    // failure told once in the log, and /readyz still says why.
    await revokeAndSettle(svc, certified.credentialId);
    for (let i = 0; i < 5; i++) expect((await fetch(`${svc.url}/pki/default/crl`)).status).toBe(200);
    expect((await readyz()).body).toMatchObject({ reason: 'ca_signing_key_missing' });
    expect(svc.logs().filter((line) => line.includes('PKI revocation failed') && line.includes('crl:default'))).toHaveLength(1);
  }, 60_000);
});
