import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryCrlBase } from '../adapters/driven/pki/crl-base.ts';
import { memoryCrlNumbers } from '../adapters/driven/pki/crl-numbers.ts';
import type { Credence, PkiRevocation } from '../adapters/runtime/index.ts';
import { openCommittedReadModel } from '../adapters/runtime/pki-committed.ts';
import { CrlPublisher } from '../adapters/runtime/pki-crl-publisher.ts';
import type { PublishedCrl } from '../adapters/runtime/pki-published-crl.ts';
import { pkiUrls, type IssuingCa } from '../domain/x509/issuing-ca.ts';
import { hasOpenssl, OpenSslDir, pem } from './support/openssl.ts';
import { closePkiInstance, crlNumberOf, dataFolderPki, PKI_TEST_URL, revokeAndSettleOn } from './support/pki-instance.ts';
import { issueCertifiedCredentialWith, testCa, type TestLeaf } from './support/pki-test-ca.ts';

/*
 * Review 312: the complete CRL and the delta CRL signed with it, at a start or on schedule, had the same thisUpdate
 * and CRL numbers N and N+1. RFC 5280 5.2.3: "When a conforming CRL issuer generates a delta CRL and a complete CRL
 * for the same scope at the same time, the CRL number of both MUST be the same". A delta signed alone later still
 * takes a number above both (one sequence for both kinds, strictly increasing).
 */

const HOUR = 60 * 60 * 1000;

/** What `openssl crl` reads of `der`: its CRL number, its delta CRL indicator if any, and its Last Update. */
const readByOpenssl = async (files: OpenSslDir, der: Uint8Array): Promise<{ number: bigint; base: bigint | undefined; lastUpdate: string }> => {
  files.write('one.crl', der);
  const text = await files.ok(['crl', '-inform', 'DER', '-in', 'one.crl', '-noout', '-text']);
  const hexAfter = (label: string): bigint | undefined => {
    const match = new RegExp(`${label}[^\\n]*\\n\\s*(?:0x)?([0-9A-Fa-f]+)`).exec(text);
    return match === null ? undefined : BigInt(`0x${match[1]!}`);
  };
  const number = hexAfter('X509v3 CRL Number:');
  if (number === undefined) throw new Error(`no CRL number in:\n${text}`);
  return { number, base: hexAfter('X509v3 Delta CRL Indicator:'), lastUpdate: /Last Update: (.+)/.exec(text)![1]! };
};

/** `openssl verify -crl_check -extended_crl -use_deltas` of `leaf` with `crls` (complete and delta) at `at`. */
const verifyWith = async (files: OpenSslDir, leaf: TestLeaf, crls: readonly Uint8Array[], at = Date.now()): Promise<string> => {
  files.write('leaf.pem', leaf.pem);
  files.write('crls.pem', crls.map((der) => pem('X509 CRL', der)).join(''));
  const { stdout, stderr } = await files.run([
    'verify', '-crl_check', '-extended_crl', '-use_deltas', '-attime', String(Math.floor(at / 1000)), '-CAfile', 'ca.pem', '-CRLfile', 'crls.pem', 'leaf.pem',
  ]);
  return `${stdout}${stderr}`;
};

/** The pair is one issuance: same number, same thisUpdate, and the delta names a base at or below that number. */
const expectOneIssuance = (complete: PublishedCrl, delta: PublishedCrl): void => {
  expect(crlNumberOf(delta.der)).toBe(crlNumberOf(complete.der));
  expect(delta.crlNumber).toBe(complete.crlNumber);
  expect(delta.thisUpdate).toBe(complete.thisUpdate);
  expect(crlNumberOf(delta.der, true)).toBeLessThan(crlNumberOf(delta.der));
};

describe.skipIf(!hasOpenssl())('a complete CRL and the delta CRL issued with it carry the same CRL number (review 312)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-crl-pair-'));
  const folder = dataFolderPki(dir);
  const files = new OpenSslDir('credence-crl-pair-');
  const t = {} as { credence: Credence; pki: PkiRevocation; ca: IssuingCa; x: TestLeaf; y: TestLeaf; z: TestLeaf };
  beforeAll(async () => {
    t.credence = folder.open();
    const ca = await testCa('default', 'p256');
    t.ca = ca;
    files.write('ca.pem', ca.pem);
    t.pki = await folder.start(t.credence, t.ca);
    t.x = await issueCertifiedCredentialWith(t.credence, t.ca, PKI_TEST_URL, 'cred-x');
    t.y = await issueCertifiedCredentialWith(t.credence, t.ca, PKI_TEST_URL, 'cred-y');
    t.z = await issueCertifiedCredentialWith(t.credence, t.ca, PKI_TEST_URL, 'cred-z');
  }, 60_000);
  afterAll(() => closePkiInstance({ pki: t.pki, credence: t.credence, se: folder.se, dir, files }));

  it('at every start: one number for both, read so by openssl; a delta signed alone later is above it and verifies', async () => {
    const first = { complete: await t.pki.crl('default')!.full(), delta: await t.pki.crl('default')!.delta() };
    expectOneIssuance(first.complete, first.delta);
    const read = { complete: await readByOpenssl(files, first.complete.der), delta: await readByOpenssl(files, first.delta.der) };
    expect(read.delta.number).toBe(read.complete.number);
    expect(read.delta.lastUpdate).toBe(read.complete.lastUpdate);
    expect(read.complete.base).toBeUndefined();
    // The first start has no base: one is signed just before the pair, so the delta names a base below its number.
    expect(read.delta.base).toBeLessThan(read.complete.number);

    await revokeAndSettleOn(t.credence, t.pki, [['cred-x', 'keyCompromise']]);
    const alone = await t.pki.crl('default')!.delta();
    expect(alone.crlNumber).toBeGreaterThan(first.delta.crlNumber);
    expect((await readByOpenssl(files, alone.der)).number).toBeGreaterThan(read.complete.number);
    expect(await verifyWith(files, t.x, [first.complete.der, alone.der])).toContain('certificate revoked');
    expect(await verifyWith(files, t.y, [first.complete.der, alone.der])).toMatch(/leaf\.pem: OK/);

    // A restart on the base kept in the data folder: the pair signed then shares a number too, above every earlier one.
    t.pki.stop();
    await t.credence.close();
    t.credence = folder.open();
    t.pki = await folder.start(t.credence, t.ca);
    const again = { complete: await t.pki.crl('default')!.full(), delta: await t.pki.crl('default')!.delta() };
    expectOneIssuance(again.complete, again.delta);
    expect(again.complete.crlNumber).toBeGreaterThan(alone.crlNumber);
    expect(crlNumberOf(again.delta.der, true)).toBe(crlNumberOf(alone.der, true));
    // Someone holding the first complete CRL combines it with that delta; someone holding the new one needs none.
    for (const held of [first.complete.der, again.complete.der]) {
      expect(await verifyWith(files, t.x, [held, again.delta.der])).toContain('certificate revoked');
      expect(await verifyWith(files, t.y, [held, again.delta.der])).toMatch(/leaf\.pem: OK/);
    }

    await revokeAndSettleOn(t.credence, t.pki, [['cred-y', 'keyCompromise']]);
    const later = await t.pki.crl('default')!.delta();
    expect(later.crlNumber).toBeGreaterThan(again.complete.crlNumber);
    for (const held of [first.complete.der, again.complete.der]) {
      expect(await verifyWith(files, t.y, [held, later.der])).toContain('certificate revoked');
      expect(await verifyWith(files, t.z, [held, later.der])).toMatch(/leaf\.pem: OK/);
    }
  }, 60_000);
});

describe.skipIf(!hasOpenssl())('a complete CRL signed with a delta on schedule or as the next base shares its number (review 312)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-crl-pair-tick-'));
  const folder = dataFolderPki(dir);
  const files = new OpenSslDir('credence-crl-pair-tick-');
  const t = {} as { credence: Credence; pki: PkiRevocation; ca: IssuingCa; leaves: TestLeaf[] };
  beforeAll(async () => {
    t.credence = folder.open();
    const ca = await testCa('default', 'p256');
    t.ca = ca;
    files.write('ca.pem', ca.pem);
    t.pki = await folder.start(t.credence, t.ca);
    t.leaves = [];
    for (const id of ['cred-a', 'cred-b', 'cred-c', 'cred-d']) t.leaves.push(await issueCertifiedCredentialWith(t.credence, t.ca, PKI_TEST_URL, id));
  }, 60_000);
  afterAll(() => closePkiInstance({ pki: t.pki, credence: t.credence, se: folder.se, dir, files }));

  it('on the schedule and when a next base is chosen: one number for both; a delta alone later is above it', async () => {
    const reads = openCommittedReadModel(t.credence.readModels);
    let now = Date.now();
    const publisher = new CrlPublisher({
      reads, ca: t.ca, urls: pkiUrls(PKI_TEST_URL, t.ca.id), numbers: memoryCrlNumbers(() => now), now: () => now, base: memoryCrlBase(), rebaseAfter: 1,
    });
    const [a, b, c, d] = t.leaves as [TestLeaf, TestLeaf, TestLeaf, TestLeaf];
    try {
      await publisher.start();
      const held = await publisher.full();
      const first = await publisher.delta();
      expectOneIssuance(held, first);

      // Past rebaseAfter entries since the base: the complete CRL signed with this delta is the next base.
      now = held.thisUpdate + HOUR;
      await revokeAndSettleOn(t.credence, t.pki, [['cred-a', 'keyCompromise'], ['cred-b', 'keyCompromise']]);
      const withNext = await publisher.delta();
      const next = await publisher.full();
      expectOneIssuance(next, withNext);
      expect(withNext.crlNumber).toBeGreaterThan(held.crlNumber);
      // Still on the base of the start: the complete CRL held is at or above it.
      expect(crlNumberOf(withNext.der, true)).toBe(crlNumberOf(first.der, true));
      expect(await verifyWith(files, b, [held.der, withNext.der], now)).toContain('certificate revoked');
      expect(await verifyWith(files, c, [held.der, withNext.der], now)).toMatch(/leaf\.pem: OK/);

      // Half the complete CRL's validity later, the schedule signs a complete CRL and a delta together.
      now = held.thisUpdate + 13 * HOUR;
      await publisher.tick();
      const scheduled = { complete: await publisher.full(), delta: await publisher.delta() };
      expectOneIssuance(scheduled.complete, scheduled.delta);
      expect(scheduled.complete.crlNumber).toBeGreaterThan(next.crlNumber);
      expect(scheduled.complete.thisUpdate).toBe(Math.floor(now / 1000) * 1000);
      expect(await verifyWith(files, a, [held.der, scheduled.delta.der], now)).toContain('certificate revoked');
      expect(await verifyWith(files, a, [scheduled.complete.der, scheduled.delta.der], now)).toContain('certificate revoked');
      expect(await verifyWith(files, d, [held.der, scheduled.delta.der], now)).toMatch(/leaf\.pem: OK/);

      // A delta signed alone (a revocation) takes a number above both.
      now += HOUR;
      await revokeAndSettleOn(t.credence, t.pki, [['cred-c', 'keyCompromise']]);
      const alone = await publisher.delta();
      expect(alone.crlNumber).toBeGreaterThan(scheduled.complete.crlNumber);
      expect(alone.thisUpdate).toBeGreaterThan(scheduled.delta.thisUpdate);
      for (const complete of [held, scheduled.complete]) {
        expect(await verifyWith(files, c, [complete.der, alone.der], now)).toContain('certificate revoked');
        expect(await verifyWith(files, d, [complete.der, alone.der], now)).toMatch(/leaf\.pem: OK/);
      }
    } finally {
      publisher.stop();
    }
  }, 60_000);
});
