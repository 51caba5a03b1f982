import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { caFilePath } from '../adapters/driven/pki/index.ts';
import { OCSP_SIGNER_REPLACE_WAIT_MS } from '../adapters/driven/pki/ocsp-signing-key.ts';
import { EmbeddedSecureEnvironment } from '../adapters/driven/secure-environment/embedded.ts';
import { secureEnvironmentUnavailable } from '../domain/errors.ts';
import type { KeyHandle } from '../domain/ports/index.ts';
import { ocspRequest } from './support/ocsp-client.ts';
import { issueCertifiedCredential, pkiOf, startPkiService } from './support/pki-test-ca.ts';
import type { TestService } from './support/service.ts';

/*
 * Review 335: an OCSP responder key lost while the service runs is replaced at most every 5 s, but each attempt
 * generated a new responder key in the Secure Environment, had the CA sign it, failed (the CA's key missing too) and
 * destroyed it again, for as long as the CA key stayed missing: on a network HSM, a synchronous key generation every
 * 5 s for anyone who can send an OCSP request. Now no key is made while the CA's own key is known missing, and failed
 * replacements back off (5 s doubling to 60 s). The infrastructure's generate and destroy calls are counted; the clock
 * is performance.now, stopped and moved forward by the test.
 */
const handleIn = (path: string) => (JSON.parse(readFileSync(path, 'utf8')) as { keyHandle: KeyHandle }).keyHandle;
const ocspPost = async (svc: TestService, body: Uint8Array) =>
  fetch(`${svc.url}/pki/default/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: Buffer.from(body) });
const responseStatus = (der: Uint8Array): number => der[der[1]! < 0x80 ? 4 : 4 + (der[1]! & 0x7f)]!;
/** The calls the infrastructure (the owner of the CA and OCSP keys) made of a spied Secure Environment method. */
const infrastructure = (calls: readonly unknown[][]) => calls.filter(([owner]) => owner === 'maf:infrastructure').length;

describe('an OCSP responder key lost while the CA key is missing too', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startPkiService('p256');
  }, 60_000);
  afterAll(async () => svc?.close());
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const infrastructureSe = async () => (await svc.service.context.credence.security()).infrastructure.signing.se;

  it('makes no new responder key at each anonymous request while the CA cannot sign one', async () => {
    const leaf = await issueCertifiedCredential(svc, 'cred-both-gone');
    const ca = pkiOf(svc).cas[0]!;
    const ocspKey = handleIn(join(svc.dir, 'pki', 'default.ocsp.json'));
    const caKey = handleIn(caFilePath(svc.dir, 'default'));
    const se = await infrastructureSe();
    await se.destroy(caKey);
    await se.destroy(ocspKey);

    const start = Math.floor(performance.now());
    let skipped = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => start + skipped);
    const generate = vi.spyOn(EmbeddedSecureEnvironment.prototype, 'generate');
    const destroy = vi.spyOn(EmbeddedSecureEnvironment.prototype, 'destroy');

    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      statuses.push(responseStatus(new Uint8Array(await (await ocspPost(svc, await ocspRequest(leaf, ca))).arrayBuffer())));
      skipped += 5_000;
    }
    // Nothing signs an answer: no responder key, and none can be issued.
    expect(statuses.every((s) => s !== 0)).toBe(true);
    // The first attempt learns that the CA cannot sign (its key made, refused and destroyed); none follows while the
    // CA's key stays missing.
    expect(infrastructure(generate.mock.calls)).toBeLessThanOrEqual(1);
    expect(infrastructure(destroy.mock.calls)).toBe(infrastructure(generate.mock.calls));
  }, 60_000);
});

describe('an OCSP responder key lost while the CA fails to sign for another reason', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startPkiService('p256');
  }, 60_000);
  afterAll(async () => svc?.close());
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('tries a replacement again after 5 s, doubling to 60 s while they fail, not at every request 5 s apart', async () => {
    const leaf = await issueCertifiedCredential(svc, 'cred-ca-failing');
    const ca = pkiOf(svc).cas[0]!;
    const ocspKey = handleIn(join(svc.dir, 'pki', 'default.ocsp.json'));
    const caKey = handleIn(caFilePath(svc.dir, 'default'));
    await (await svc.service.context.credence.security()).infrastructure.signing.se.destroy(ocspKey);

    const start = Math.floor(performance.now());
    let skipped = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => start + skipped);
    // The CA's key is there but will not sign (a token refusing it, say): not known missing, so replacements are tried.
    const sign = EmbeddedSecureEnvironment.prototype.sign;
    vi.spyOn(EmbeddedSecureEnvironment.prototype, 'sign').mockImplementation(async function (this: EmbeddedSecureEnvironment, owner, handle, message) {
      if (handle === caKey) throw secureEnvironmentUnavailable('test_refusal', 'the CA key will not sign now');
      return sign.call(this, owner, handle, message);
    });
    const generate = vi.spyOn(EmbeddedSecureEnvironment.prototype, 'generate');

    // Requests 5 s apart for 140 s: attempts at 0, 5, 15, 35, 75 and 135 s (waits 5, 10, 20, 40, 60).
    const attempts: number[] = [];
    for (let at = 0; at <= 140_000; at += 5_000) {
      skipped = at;
      const before = infrastructure(generate.mock.calls);
      expect(responseStatus(new Uint8Array(await (await ocspPost(svc, await ocspRequest(leaf, ca))).arrayBuffer()))).not.toBe(0);
      if (infrastructure(generate.mock.calls) > before) attempts.push(at);
    }
    expect(attempts).toEqual([0, 5_000, 15_000, 35_000, 75_000, 135_000]);
    expect(OCSP_SIGNER_REPLACE_WAIT_MS).toEqual({ first: 5_000, most: 60_000 });

    // Once the CA signs again, the next attempt the wait allows issues a new responder and answers are signed.
    vi.mocked(EmbeddedSecureEnvironment.prototype.sign).mockRestore();
    skipped = 135_000 + OCSP_SIGNER_REPLACE_WAIT_MS.most;
    const statuses: number[] = [];
    for (let i = 0; i < 2; i++) statuses.push(responseStatus(new Uint8Array(await (await ocspPost(svc, await ocspRequest(leaf, ca))).arrayBuffer())));
    expect(statuses.at(-1)).toBe(0);
    expect(handleIn(join(svc.dir, 'pki', 'default.ocsp.json'))).not.toBe(ocspKey);
  }, 60_000);
});
