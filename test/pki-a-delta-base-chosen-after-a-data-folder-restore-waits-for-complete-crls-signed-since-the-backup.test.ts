import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileCrlBase } from '../adapters/driven/pki/crl-base.ts';
import { memoryCrlNumbers } from '../adapters/driven/pki/crl-numbers.ts';
import type { Credence, PkiRevocation } from '../adapters/runtime/index.ts';
import { openCommittedReadModel } from '../adapters/runtime/pki-committed.ts';
import { CrlPublisher } from '../adapters/runtime/pki-crl-publisher.ts';
import { pkiUrls, type CaId, type IssuingCa } from '../domain/x509/issuing-ca.ts';
import { closePkiInstance, crlNumberOf, dataFolderPki, PKI_TEST_URL, revokeAndSettleOn } from './support/pki-instance.ts';
import { issueCertifiedCredentialWith, testCa } from './support/pki-test-ca.ts';

/*
 * Review 264: a whole data folder restored from a backup brings back the backup's `pki/<ca>.crl-base.json` and
 * `<ca>.crl-complete-until.json`, which know nothing of the complete CRLs signed since. A next base chosen then took
 * over at the restored `completeUntil`, already past, so at once: a relying party still holding a complete CRL signed
 * after the backup was given deltas on a newer base, which RFC 5280 5.2.4 (and OpenSSL) rule out, and it fell back
 * to that complete CRL, without the revocations since.
 */

const HOUR = 60 * 60 * 1000;
const FILES = ['crl-base.json', 'crl-complete-until.json'];

describe('a next base chosen after a data folder restore takes over only once the complete CRLs signed since the backup expire (review 264)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-delta-base-restore-'));
  const backup = mkdtempSync(join(tmpdir(), 'credence-delta-base-backup-'));
  const folder = dataFolderPki(dir);
  const t = {} as { credence: Credence; pki: PkiRevocation; ca: IssuingCa };
  beforeAll(async () => {
    t.credence = folder.open();
    t.ca = await testCa('default', 'p256');
    t.pki = await folder.start(t.credence, t.ca);
    for (const id of ['a', 'b', 'c'].flatMap((x) => [`${x}-delta`, `${x}-complete`])) await issueCertifiedCredentialWith(t.credence, t.ca, PKI_TEST_URL, id);
  }, 60_000);
  afterAll(async () => {
    await closePkiInstance({ pki: t.pki, credence: t.credence, se: folder.se, dir });
    rmSync(backup, { recursive: true, force: true });
  });

  // After a restart the first CRL is a complete one (the start), or a delta: the start found the read model incomplete
  // (being rebuilt, or behind the log) and signed nothing, and a revocation came once it was whole.
  it.each(['delta', 'complete'] as const)('keeps the deltas usable with a complete CRL signed after the backup (first CRL after the restart: %s)', async (firstAfter) => {
    const reads = openCommittedReadModel(t.credence.readModels);
    const pkiDir = mkdtempSync(join(tmpdir(), 'credence-delta-base-pki-'));
    const start = Date.now();
    let now = start;
    const numbers = memoryCrlNumbers(() => now);
    const publisher = () =>
      new CrlPublisher({ reads, ca: t.ca, urls: pkiUrls(PKI_TEST_URL, t.ca.id), numbers, now: () => now, base: fileCrlBase(pkiDir, 'default' as CaId), rebaseAfter: 1 });
    const path = (folderPath: string, file: string) => join(folderPath, 'pki', `default.${file}`);
    // Every publisher made here: stopped and settled before pkiDir goes (a CRL base file is saved in the background,
    // and a save finishing after the removal made pki/ again, leaving the folder behind).
    const made: CrlPublisher[] = [];
    try {
      const first = publisher();
      made.push(first);
      await first.start();
      await first.settled();
      // The backup: the CRL base files as they are now.
      for (const file of FILES) if (existsSync(path(pkiDir, file))) copyFileSync(path(pkiDir, file), join(backup, file));

      // +30 h: two revocations, past rebaseAfter; a relying party keeps the complete CRL signed then (valid to +54 h).
      now = start + 30 * HOUR;
      await revokeAndSettleOn(t.credence, t.pki, [[`a-${firstAfter}`, 'keyCompromise'], [`b-${firstAfter}`, 'keyCompromise']]);
      await first.delta();
      const held = await first.full();
      expect(held.nextUpdate).toBeGreaterThan(start + 53 * HOUR);
      await first.settled();
      first.stop();

      // The folder restored from the backup (its CRL base files with it); started again at +31 h: a third revocation.
      for (const file of FILES) copyFileSync(join(backup, file), path(pkiDir, file));
      now = start + 31 * HOUR;
      const second = publisher();
      made.push(second);
      try {
        if (firstAfter === 'delta') await second.delta();
        else await second.start();
        await revokeAndSettleOn(t.credence, t.pki, [[`c-${firstAfter}`, 'keyCompromise']]);
        now = start + 32 * HOUR;
        await second.tick();
        const delta = await second.delta();
        // Usable with the complete CRL held: its base at or below it (RFC 5280 5.2.4).
        expect(crlNumberOf(delta.der, true)).toBeLessThanOrEqual(held.crlNumber);
        // The base moves once every complete CRL signed before the restart may have expired: a CRL validity after it.
        now = start + 55 * HOUR;
        await second.tick();
        expect(crlNumberOf((await second.delta()).der, true)).toBeGreaterThan(held.crlNumber);
      } finally {
        second.stop();
      }
    } finally {
      for (const each of made) {
        each.stop();
        await each.settled().catch(() => undefined);
      }
      reads.close();
      // A publisher stopped may still finish a file it was writing there: retried, not failed on ENOTEMPTY.
      rmSync(pkiDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
    }
  }, 60_000);
});
