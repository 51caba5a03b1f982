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
import { closePkiInstance, crlNumberOf, dataFolderPki, PKI_TEST_URL, revokeAndSettleOn } from './support/pki-instance.ts';
import { issueCertifiedCredentialWith, testCa } from './support/pki-test-ca.ts';

/*
 * Review 157: the next base of the deltas and when it takes over lived only in memory. After each start the
 * publisher chose another, taking over at the nextUpdate of the complete CRL signed at that start, a CRL validity
 * (24 h) ahead: a service restarted every 12 h never moved the base, and its deltas grew without bound.
 */

const HOUR = 60 * 60 * 1000;

describe('the base of the deltas moves within a CRL validity past rebaseAfter, even restarted every 12 h (review 157)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-delta-base-restarts-'));
  const folder = dataFolderPki(dir);
  const ids = ['cred-0', 'cred-1', 'cred-2', 'cred-3', 'cred-4', 'cred-5', 'cred-6'];
  const t = {} as { credence: Credence; pki: PkiRevocation; ca: IssuingCa };
  beforeAll(async () => {
    t.credence = folder.open();
    t.ca = await testCa('default', 'p256');
    t.pki = await folder.start(t.credence, t.ca);
    for (const id of ids) await issueCertifiedCredentialWith(t.credence, t.ca, PKI_TEST_URL, id);
  }, 60_000);
  afterAll(() => closePkiInstance({ pki: t.pki, credence: t.credence, se: folder.se, dir }));

  it('takes a new base once the complete CRLs below it have passed their nextUpdate, and never earlier', async () => {
    const reads = openCommittedReadModel(t.credence.readModels);
    const start = Date.now();
    let now = start;
    // What survives a restart: the CRL numbers and the base.
    const numbers = memoryCrlNumbers(() => now);
    const base = memoryCrlBase();
    /** Every complete CRL seen, with its nextUpdate: a delta's base is never above one still valid. */
    const completes: { crlNumber: number; nextUpdate: number }[] = [];
    const bases: number[] = [];
    try {
      for (let restart = 0; restart < ids.length; restart++) {
        now = start + restart * 12 * HOUR;
        const publisher = new CrlPublisher({ reads, ca: t.ca, urls: pkiUrls(PKI_TEST_URL, t.ca.id), numbers, now: () => now, base, rebaseAfter: 1 });
        try {
          await publisher.start();
          completes.push(await publisher.full());
          await revokeAndSettleOn(t.credence, t.pki, [[ids[restart]!, 'keyCompromise']]);
          const delta = await publisher.delta();
          const full = await publisher.full();
          completes.push(full);
          const onBase = crlNumberOf(delta.der, true);
          bases.push(onBase);
          for (const held of completes) if (held.nextUpdate > now && held.crlNumber < delta.crlNumber) expect(onBase).toBeLessThanOrEqual(held.crlNumber);
        } finally {
          publisher.stop();
        }
      }
    } finally {
      reads.close();
    }
    // Past rebaseAfter at +12 h; the complete CRLs signed up to then are valid until +36 h: the base moves at +36 h.
    expect(bases.slice(0, 3).every((b) => b === bases[0])).toBe(true);
    expect(bases[3]).toBeGreaterThan(bases[0]!);
    expect(bases[6]).toBeGreaterThan(bases[3]!);
  }, 120_000);
});

describe('a restart with a shorter CRL validity does not move the base before an older complete CRL expires (review 157)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-delta-base-shorter-'));
  const folder = dataFolderPki(dir);
  const t = {} as { credence: Credence; pki: PkiRevocation; ca: IssuingCa };
  beforeAll(async () => {
    t.credence = folder.open();
    t.ca = await testCa('default', 'p256');
    t.pki = await folder.start(t.credence, t.ca);
    for (const id of ['cred-a', 'cred-b']) await issueCertifiedCredentialWith(t.credence, t.ca, PKI_TEST_URL, id);
  }, 60_000);
  afterAll(() => closePkiInstance({ pki: t.pki, credence: t.credence, se: folder.se, dir }));

  it('keeps the deltas on the base while the complete CRL signed under the longer validity is still valid', async () => {
    const reads = openCommittedReadModel(t.credence.readModels);
    const start = Date.now();
    let now = start;
    const numbers = memoryCrlNumbers(() => now);
    const base = memoryCrlBase();
    const publisherWith = (validityMs: number) =>
      new CrlPublisher({ reads, ca: t.ca, urls: pkiUrls(PKI_TEST_URL, t.ca.id), numbers, now: () => now, base, rebaseAfter: 1, validityMs, deltaValidityMs: HOUR / 2 });
    try {
      const first = publisherWith(24 * HOUR);
      await first.start();
      const held = await first.full();
      // The base of the start: a complete CRL signed just before `held` (review 312).
      const heldBase = crlNumberOf((await first.delta()).der, true);
      first.stop();
      // Restarted an hour later with a CRL validity of one hour: past rebaseAfter, a next base is chosen.
      now = start + HOUR;
      const second = publisherWith(HOUR);
      try {
        await second.start();
        await revokeAndSettleOn(t.credence, t.pki, [['cred-a', 'keyCompromise'], ['cred-b', 'keyCompromise']]);
        await second.delta();
        // Every complete CRL signed since the restart has expired; `held` has not.
        now = start + 3 * HOUR;
        await second.tick();
        expect(crlNumberOf((await second.delta()).der, true)).toBe(heldBase);
        now = held.nextUpdate;
        await second.tick();
        expect(crlNumberOf((await second.delta()).der, true)).toBeGreaterThan(held.crlNumber);
      } finally {
        second.stop();
      }
    } finally {
      reads.close();
    }
  }, 60_000);
});
