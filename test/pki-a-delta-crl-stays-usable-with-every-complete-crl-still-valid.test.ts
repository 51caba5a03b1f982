import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryCrlBase } from '../adapters/driven/pki/crl-base.ts';
import { memoryCrlNumbers } from '../adapters/driven/pki/crl-numbers.ts';
import type { Credence, PkiRevocation } from '../adapters/runtime/index.ts';
import { openCommittedReadModel } from '../adapters/runtime/pki-committed.ts';
import { CrlPublisher } from '../adapters/runtime/pki-crl-publisher.ts';
import { pkiUrls, type IssuingCa } from '../domain/x509/issuing-ca.ts';
import { hasOpenssl, OpenSslDir, pem } from './support/openssl.ts';
import { closePkiInstance, crlNumberOf, dataFolderPki, PKI_TEST_URL, revokeAndSettleOn } from './support/pki-instance.ts';
import { issueCertifiedCredentialWith, testCa, type TestLeaf } from './support/pki-test-ca.ts';

/*
 * Review 148: every complete CRL signed after a revocation (on a fetch, on schedule, at a start) became the base of
 * the deltas. A relying party keeps its complete CRL until its nextUpdate (24 h) and refreshes the delta (1 h); once
 * anyone else fetched the complete CRL, the next delta named a base newer than the one it held, RFC 5280 5.2.4 and
 * OpenSSL rule that delta out, and it fell back to its complete CRL, which lacks the revocation: a revoked
 * certificate verified. `openssl verify -crl_check -use_deltas` is the relying party here.
 */

const HOUR = 60 * 60 * 1000;

/**
 * What `openssl verify -crl_check -use_deltas` says of `leaf` with `crls` (complete and delta) at `at` (epoch ms).
 * With `-extended_crl`: without it, OpenSSL 3.0 may take the delta for a complete CRL (get_crl_score excludes deltas
 * only with extended CRL support), and a base-less verdict would prove nothing about the base.
 */
const verifyWith = async (files: OpenSslDir, leaf: TestLeaf, crls: readonly Uint8Array[], at = Date.now()): Promise<string> => {
  files.write('leaf.pem', leaf.pem);
  files.write('crls.pem', crls.map((der) => pem('X509 CRL', der)).join(''));
  const { stdout, stderr } = await files.run([
    'verify', '-crl_check', '-extended_crl', '-use_deltas', '-attime', String(Math.floor(at / 1000)), '-CAfile', 'ca.pem', '-CRLfile', 'crls.pem', 'leaf.pem',
  ]);
  return `${stdout}${stderr}`;
};

describe.skipIf(!hasOpenssl())('a delta CRL stays usable with a complete CRL someone else fetched after it (review 148)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-delta-base-'));
  const folder = dataFolderPki(dir);
  const files = new OpenSslDir('credence-delta-base-');
  const t = {} as { credence: Credence; pki: PkiRevocation; ca: IssuingCa; x: TestLeaf; y: TestLeaf };
  beforeAll(async () => {
    t.credence = folder.open();
    const ca = await testCa('default', 'p256');
    t.ca = ca;
    files.write('ca.pem', ca.pem);
    t.pki = await folder.start(t.credence, ca);
    t.x = await issueCertifiedCredentialWith(t.credence, ca, PKI_TEST_URL, 'cred-x');
    t.y = await issueCertifiedCredentialWith(t.credence, ca, PKI_TEST_URL, 'cred-y');
  }, 60_000);
  afterAll(() => closePkiInstance({ pki: t.pki, credence: t.credence, se: folder.se, dir, files }));

  it('says revoked with the complete CRL held and the newest delta, after another fetch of the complete CRL and after a restart', async () => {
    const c1 = (await t.pki.crl('default')!.full()).der;
    await revokeAndSettleOn(t.credence, t.pki, [['cred-x', 'keyCompromise']]);
    const d1 = (await t.pki.crl('default')!.delta()).der;
    expect(await verifyWith(files, t.x, [c1, d1])).toContain('certificate revoked');

    // Someone else fetches the complete CRL: signed anew, it must not move the base of the next delta.
    const c2 = (await t.pki.crl('default')!.full()).der;
    expect(crlNumberOf(c2)).toBeGreaterThan(crlNumberOf(c1));
    await revokeAndSettleOn(t.credence, t.pki, [['cred-y', 'keyCompromise']]);
    const d2 = (await t.pki.crl('default')!.delta()).der;
    expect(await verifyWith(files, t.x, [c1, d2])).toContain('certificate revoked');
    expect(crlNumberOf(d2, true)).toBeLessThanOrEqual(crlNumberOf(c1));
    expect(await verifyWith(files, t.y, [c1, d2])).toContain('certificate revoked');
    expect(await verifyWith(files, t.y, [c2, d2])).toContain('certificate revoked');

    // A restart signs a complete CRL again; the deltas keep the base, read back from the data folder.
    t.pki.stop();
    await t.credence.close();
    t.credence = folder.open();
    t.pki = await folder.start(t.credence, t.ca);
    const c3 = (await t.pki.crl('default')!.full()).der;
    const d3 = (await t.pki.crl('default')!.delta()).der;
    for (const held of [c1, c2, c3]) {
      expect(await verifyWith(files, t.x, [held, d3])).toContain('certificate revoked');
      expect(await verifyWith(files, t.y, [held, d3])).toContain('certificate revoked');
    }
    // Signed together at the restart: one number (RFC 5280 5.2.3, review 312).
    expect(crlNumberOf(d3)).toBe(crlNumberOf(c3));
    expect(crlNumberOf(d3, true)).toBe(crlNumberOf(d2, true));
  }, 60_000);
});

describe.skipIf(!hasOpenssl())('a new base takes over only once every complete CRL below it has passed its nextUpdate (review 148)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-delta-next-base-'));
  const folder = dataFolderPki(dir);
  const files = new OpenSslDir('credence-delta-next-base-');
  const t = {} as { credence: Credence; pki: PkiRevocation; ca: IssuingCa; leaves: TestLeaf[] };
  beforeAll(async () => {
    t.credence = folder.open();
    const ca = await testCa('default', 'p256');
    t.ca = ca;
    files.write('ca.pem', ca.pem);
    t.pki = await folder.start(t.credence, ca);
    t.leaves = [];
    for (const id of ['cred-a', 'cred-b', 'cred-c']) t.leaves.push(await issueCertifiedCredentialWith(t.credence, ca, PKI_TEST_URL, id));
  }, 60_000);
  afterAll(() => closePkiInstance({ pki: t.pki, credence: t.credence, se: folder.se, dir, files }));

  it('keeps the deltas on the base held by relying parties past rebaseAfter entries, then moves it a complete CRL validity later', async () => {
    const reads = openCommittedReadModel(t.credence.readModels);
    let now = Date.now();
    const publisher = new CrlPublisher({
      reads, ca: t.ca, urls: pkiUrls(PKI_TEST_URL, t.ca.id), numbers: memoryCrlNumbers(() => now), now: () => now, base: memoryCrlBase(), rebaseAfter: 1,
    });
    try {
      await publisher.start();
      const held = await publisher.full();
      // The base of the start: a complete CRL signed just before `held`, which the delta signed with it numbers as
      // its own (review 312).
      const firstBase = crlNumberOf((await publisher.delta()).der, true);
      expect(firstBase).toBeLessThan(held.crlNumber);
      now = held.thisUpdate + HOUR;
      await revokeAndSettleOn(t.credence, t.pki, [['cred-a', 'keyCompromise'], ['cred-b', 'keyCompromise']]);
      // Two entries since the base, past rebaseAfter: the complete CRL signed now is the next base, not yet this one's.
      const d1 = (await publisher.delta()).der;
      const next = await publisher.full();
      expect(next.crlNumber).toBeGreaterThan(held.crlNumber);
      expect(await verifyWith(files, t.leaves[1]!, [held.der, d1], now)).toContain('certificate revoked');
      expect(crlNumberOf(d1, true)).toBe(firstBase);

      // Within the held complete CRL's validity, the deltas stay on its base (the schedule signs complete CRLs too).
      now = held.thisUpdate + 23 * HOUR;
      await revokeAndSettleOn(t.credence, t.pki, [['cred-c', 'keyCompromise']]);
      await publisher.tick();
      const d2 = (await publisher.delta()).der;
      expect(await verifyWith(files, t.leaves[2]!, [held.der, d2], now)).toContain('certificate revoked');
      expect(crlNumberOf(d2, true)).toBe(firstBase);

      // Once it has passed its nextUpdate, the next base takes over at the next delta.
      now = held.nextUpdate;
      await publisher.tick();
      const d3 = (await publisher.delta()).der;
      expect(crlNumberOf(d3, true)).toBe(next.crlNumber);
      const latest = await publisher.full();
      for (const leaf of t.leaves) {
        expect(await verifyWith(files, leaf, [next.der, d3], now)).toContain('certificate revoked');
        expect(await verifyWith(files, leaf, [latest.der, d3], now)).toContain('certificate revoked');
      }
    } finally {
      publisher.stop();
      reads.close();
    }
  }, 60_000);
});
