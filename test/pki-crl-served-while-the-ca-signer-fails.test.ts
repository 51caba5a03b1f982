import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Credence, PkiRevocation } from '../adapters/runtime/index.ts';
import type { IssuingCa } from '../domain/x509/issuing-ca.ts';
import { closePkiInstance, crlNumberOf, dataFolderPki, PKI_TEST_URL, revokeAndSettleOn, serialsOf } from './support/pki-instance.ts';
import { issueCertifiedCredentialWith, pkiOf, startPkiService, testCa, type TestLeaf } from './support/pki-test-ca.ts';
import type { TestService } from './support/service.ts';

/*
 * Every revocation marks the complete CRL stale, so one revocation and a CA signer that fails a moment (an HSM away)
 * made the distribution point answer 500, though the CRL issued before is valid until its nextUpdate (RFC 5280
 * 5.1.2.5). That CRL is served meanwhile, the failure reported; past its nextUpdate, the failure is the answer.
 */

/** A CA whose signer rejects, as an HSM that cannot be reached does, while `failing` is set. */
const caWithAFlakySigner = async (): Promise<{ ca: IssuingCa; setFailing: (failing: boolean) => void }> => {
  const base = await testCa('default', 'ed25519');
  let failing = false;
  const ca: IssuingCa = {
    ...base,
    signer: { ...base.signer, sign: (tbs) => (failing ? Promise.reject(new Error('HSM unreachable')) : base.signer.sign(tbs)) },
  };
  return { ca, setFailing: (f) => void (failing = f) };
};

describe('the CRLs while the CA signer fails', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-crl-signer-fails-'));
  const folder = dataFolderPki(dir);
  const t = { errors: [] as unknown[], leaves: [] as TestLeaf[] } as {
    credence: Credence;
    pki: PkiRevocation;
    ca: IssuingCa;
    setFailing: (failing: boolean) => void;
    errors: unknown[];
    leaves: TestLeaf[];
    now: number;
  };
  let svc: TestService;
  let real: PkiRevocation;
  beforeAll(async () => {
    t.now = Date.now();
    t.credence = folder.open();
    ({ ca: t.ca, setFailing: t.setFailing } = await caWithAFlakySigner());
    t.pki = await folder.start(t.credence, t.ca, { now: () => t.now, onError: (_component, error) => t.errors.push(error) });
    for (const id of ['cred-a', 'cred-b', 'cred-c']) t.leaves.push(await issueCertifiedCredentialWith(t.credence, t.ca, PKI_TEST_URL, id));
    await revokeAndSettleOn(t.credence, t.pki, [['cred-a', 'keyCompromise']]);
    // Served over HTTP from this instance: the distribution point's answer is what is tested, not the service's own CA.
    svc = await startPkiService('p256');
    real = pkiOf(svc);
    svc.service.context.pkiRevocation!.current = t.pki;
  }, 60_000);
  afterAll(async () => {
    if (svc !== undefined) {
      svc.service.context.pkiRevocation!.current = real;
      await svc.close();
    }
    await closePkiInstance({ pki: t.pki, credence: t.credence, se: folder.se, dir });
  });

  const fetchCrl = async (path: string) => {
    const reply = await fetch(`${svc.url}/pki/default/${path}`);
    return { status: reply.status, type: reply.headers.get('content-type'), body: new Uint8Array(await reply.arrayBuffer()) };
  };

  it('serves the CRLs issued before while they are within their nextUpdate, reports the failure, and issues once the signer is back', async () => {
    const publisher = t.pki.crl('default')!;
    const fullBefore = await publisher.full();
    const deltaBefore = await publisher.delta();
    expect(serialsOf(fullBefore.der)).toEqual([t.leaves[0]!.serialNumber]);

    t.setFailing(true);
    // The revocation marks the complete CRL stale; its delta cannot be signed either.
    await revokeAndSettleOn(t.credence, t.pki, [['cred-b', 'keyCompromise']]);
    expect(await publisher.full()).toBe(fullBefore);
    expect(await publisher.delta()).toBe(deltaBefore);
    // Reported once for the run of failures (review 332: once per fetch before), by the revocation's delta that met it
    // first; the fetches that served the CRLs issued before add nothing.
    expect(t.errors.map((e) => (e as Error).message)).toEqual(['HSM unreachable']);

    const full = await fetchCrl('crl');
    expect(full.status).toBe(200);
    expect(full.type).toBe('application/pkix-crl');
    expect(crlNumberOf(full.body)).toBe(fullBefore.crlNumber);
    const delta = await fetchCrl('delta-crl');
    expect(delta.status).toBe(200);
    expect(crlNumberOf(delta.body)).toBe(deltaBefore.crlNumber);

    t.setFailing(false);
    const fullAfter = await publisher.full();
    expect(fullAfter.crlNumber).toBeGreaterThan(deltaBefore.crlNumber);
    expect(serialsOf(fullAfter.der)).toEqual([t.leaves[0]!.serialNumber, t.leaves[1]!.serialNumber].sort());
    expect(serialsOf((await fetchCrl('crl')).body)).toEqual(serialsOf(fullAfter.der));
  });

  it('answers the failure once the CRL issued before is past its nextUpdate', async () => {
    const publisher = t.pki.crl('default')!;
    t.setFailing(true);
    await revokeAndSettleOn(t.credence, t.pki, [['cred-c', 'keyCompromise']]);
    const last = await publisher.full();
    t.now = last.nextUpdate + 1000;
    try {
      await expect(publisher.full()).rejects.toThrow('HSM unreachable');
      await expect(publisher.delta()).rejects.toThrow('HSM unreachable');
      expect((await fetchCrl('crl')).status).toBe(500);
      expect((await fetchCrl('delta-crl')).status).toBe(500);
    } finally {
      t.setFailing(false);
    }
    const fresh = await publisher.full();
    expect(fresh.nextUpdate).toBeGreaterThan(t.now);
    expect(serialsOf(fresh.der)).toContain(t.leaves[2]!.serialNumber);
  });
});
