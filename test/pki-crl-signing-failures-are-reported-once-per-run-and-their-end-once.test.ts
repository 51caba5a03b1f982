import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Credence, PkiRevocation } from '../adapters/runtime/index.ts';
import type { FailuresEnded } from '../adapters/runtime/pki-published.ts';
import type { IssuingCa } from '../domain/x509/issuing-ca.ts';
import { closePkiInstance, dataFolderPki, PKI_TEST_URL, revokeAndSettleOn } from './support/pki-instance.ts';
import { issueCertifiedCredentialWith, testCa } from './support/pki-test-ca.ts';

/*
 * Review 332, finding 2: while a CA could not sign a CRL, every anonymous fetch of its CRLs (and every tick) logged an
 * error with a whole stack trace: 16 GETs and a few ticks made 21 "PKI revocation failed" lines. The OCSP responder
 * reports once per run of failures (review 276), and so does the CRL publisher now: the run's first failure, then its
 * end once a CRL is signed again (`crlSigning`).
 */
describe('CRL signing failures', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-crl-failures-once-'));
  const folder = dataFolderPki(dir);
  const t = { errors: [] as { component: string; error: unknown }[], recovered: [] as { component: string; ended: FailuresEnded }[] } as {
    credence: Credence;
    pki: PkiRevocation;
    ca: IssuingCa;
    failing: boolean;
    now: number;
    errors: { component: string; error: unknown }[];
    recovered: { component: string; ended: FailuresEnded }[];
  };
  beforeAll(async () => {
    t.now = Date.now();
    t.failing = false;
    t.credence = folder.open();
    const base = await testCa('default', 'ed25519');
    t.ca = { ...base, signer: { ...base.signer, sign: (tbs) => (t.failing ? Promise.reject(new Error('HSM unreachable')) : base.signer.sign(tbs)) } };
    t.pki = await folder.start(t.credence, t.ca, {
      now: () => t.now,
      onError: (component, error) => t.errors.push({ component, error }),
      onRecovered: (component, _caId, ended) => t.recovered.push({ component, ended }),
    });
    for (const id of ['cred-a', 'cred-b']) await issueCertifiedCredentialWith(t.credence, t.ca, PKI_TEST_URL, id);
  }, 60_000);
  afterAll(async () => closePkiInstance({ pki: t.pki, credence: t.credence, se: folder.se, dir }));

  it('are reported once per run, fetches and ticks alike, and the run its end once', async () => {
    const publisher = t.pki.crl('default')!;
    await publisher.full();
    t.failing = true;
    await revokeAndSettleOn(t.credence, t.pki, [['cred-a', 'keyCompromise']]);
    for (let i = 0; i < 8; i++) {
      await publisher.full();
      await publisher.delta();
    }
    await t.pki.tick();
    await t.pki.tick();
    // Past the nextUpdate of the CRLs issued before: the failure is the answer now, still told once in the log.
    t.now += 2 * 24 * 60 * 60 * 1000;
    await expect(publisher.full()).rejects.toThrow('HSM unreachable');
    await t.pki.tick();
    await publisher.settled();
    const crlErrors = t.errors.filter((e) => e.component === 'crl:default');
    expect(crlErrors.map((e) => (e.error as Error).message)).toEqual([expect.stringContaining('HSM unreachable')]);
    expect(t.recovered).toEqual([]);

    t.failing = false;
    await publisher.full();
    await revokeAndSettleOn(t.credence, t.pki, [['cred-b', 'keyCompromise']]);
    expect(t.recovered).toEqual([{ component: 'crl:default', ended: { what: 'crlSigning', failures: expect.any(Number) } }]);
    expect(t.recovered[0]!.ended.failures).toBeGreaterThan(10);
    expect(t.errors.filter((e) => e.component === 'crl:default')).toHaveLength(1);
  }, 60_000);
});
