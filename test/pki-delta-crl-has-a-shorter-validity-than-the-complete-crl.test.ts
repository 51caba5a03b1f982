import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as pkijs from 'pkijs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Credence, PkiRevocation } from '../adapters/runtime/index.ts';
import { CrlPublisher } from '../adapters/runtime/pki-crl-publisher.ts';
import type { IssuingCa } from '../domain/x509/issuing-ca.ts';
import { closePkiInstance, crlNumberOf, dataFolderPki, PKI_TEST_URL, revokeAndSettleOn, serialsOf } from './support/pki-instance.ts';
import { issueCertifiedCredentialWith, testCa, type TestLeaf } from './support/pki-test-ca.ts';

/*
 * A relying party may keep a CRL until its nextUpdate (RFC 5280 5.1.2.5). The delta CRL had the complete CRL's 24 h,
 * so one that cached it heard of a revocation no sooner than from the complete CRL, which is what a delta is for
 * (5.2.4; found in review 21). The delta is now valid for an hour and issued again every half hour.
 */

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

/** thisUpdate and nextUpdate as the CRL itself says them (not the publisher's bookkeeping), epoch ms. */
const timesOf = (der: Uint8Array): { thisUpdate: number; nextUpdate: number } => {
  const crl = pkijs.CertificateRevocationList.fromBER(Uint8Array.from(der));
  return { thisUpdate: crl.thisUpdate.value.getTime(), nextUpdate: crl.nextUpdate!.value.getTime() };
};

describe('the delta CRL has a shorter validity than the complete CRL', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-delta-validity-'));
  const folder = dataFolderPki(dir);
  const t = {} as { credence: Credence; pki: PkiRevocation; ca: IssuingCa; leaf: TestLeaf; now: number };
  beforeAll(async () => {
    t.now = Date.now();
    t.credence = folder.open();
    t.ca = await testCa('default', 'ed25519');
    t.pki = await folder.start(t.credence, t.ca, { now: () => t.now });
    t.leaf = await issueCertifiedCredentialWith(t.credence, t.ca, PKI_TEST_URL, 'cred-a');
  }, 60_000);
  afterAll(() => closePkiInstance({ pki: t.pki, credence: t.credence, se: folder.se, dir }));

  it('signs the delta valid for an hour and the complete CRL for a day', async () => {
    await revokeAndSettleOn(t.credence, t.pki, [['cred-a', 'keyCompromise']]);
    const publisher = t.pki.crl('default')!;
    const delta = await publisher.delta();
    expect(serialsOf(delta.der)).toEqual([t.leaf.serialNumber]);
    expect(timesOf(delta.der).nextUpdate - timesOf(delta.der).thisUpdate).toBe(HOUR);
    expect(delta.nextUpdate).toBe(timesOf(delta.der).nextUpdate);
    // Fetched after the revocation, the complete CRL is signed anew; the deltas keep their base (review 148).
    const full = await publisher.full();
    expect(serialsOf(full.der)).toEqual([t.leaf.serialNumber]);
    expect(timesOf(full.der).nextUpdate - timesOf(full.der).thisUpdate).toBe(DAY);
  });

  it('issues a new delta once half an hour has passed, on the same complete CRL, and not before', async () => {
    const publisher = t.pki.crl('default')!;
    const full = await publisher.full();
    const delta = await publisher.delta();
    t.now = delta.thisUpdate + HOUR / 2 - 1000;
    await t.pki.tick();
    expect(await publisher.delta()).toBe(delta);

    t.now = delta.thisUpdate + HOUR / 2;
    await t.pki.tick();
    const next = await publisher.delta();
    expect(next.crlNumber).toBeGreaterThan(delta.crlNumber);
    expect(timesOf(next.der)).toEqual({ thisUpdate: Math.floor(t.now / 1000) * 1000, nextUpdate: Math.floor(t.now / 1000) * 1000 + HOUR });
    expect(crlNumberOf(next.der, true)).toBe(crlNumberOf(delta.der, true));
    expect(crlNumberOf(next.der, true)).toBeLessThan(full.crlNumber);
    expect(serialsOf(next.der)).toEqual([t.leaf.serialNumber]);
    expect(await publisher.full()).toBe(full);
  });

  it('refuses a delta validity longer than the complete CRL\'s, shorter than 2 s, or not a whole number of ms', () => {
    const options = (deltaValidityMs: number) => ({ ...({} as ConstructorParameters<typeof CrlPublisher>[0]), ca: t.ca, now: Date.now, validityMs: DAY, deltaValidityMs });
    expect(() => new CrlPublisher(options(DAY + 1))).toThrow(`deltaValidityMs: must be a whole number of ms from 2000 to validityMs (${DAY})`);
    expect(() => new CrlPublisher(options(1999))).toThrow('deltaValidityMs: must be a whole number of ms from 2000 to validityMs');
    expect(() => new CrlPublisher(options(1.5 * HOUR + 0.5))).toThrow('deltaValidityMs');
  });
});
