import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileCrlNumbers } from '../adapters/driven/pki/crl-numbers.ts';
import { CaId } from '../domain/x509/issuing-ca.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * RFC 5280 5.2.3: a CA's CRL numbers are strictly increasing; a relying party that holds CRL n ignores another CRL
 * numbered n. The numbers are reserved in `<data>/pki/<ca>.crl-number.json`, which a restore from a backup (a whole
 * data folder, a snapshot of the disk) takes back to an older reservation: without a floor the CA would publish, under
 * numbers already used, CRLs with other contents. The clock is that floor.
 */

const folder = temporaryFolders('credence-crl-numbers-');

const ca = CaId.parse('default');
const T0 = Date.parse('2026-06-01T00:00:00.000Z');
const numberFile = (dir: string): string => join(dir, 'pki', 'default.crl-number.json');

describe('CRL numbers of a data folder', () => {
  it('are above every number published before, after the number file is restored from an older backup', () => {
    const dir = folder();
    const backup = join(folder(), 'crl-number.json');
    let now = T0;
    const published: number[] = [];
    let numbers = fileCrlNumbers(dir, ca, () => now);
    for (let i = 0; i < 3; i++) published.push(numbers.next());
    copyFileSync(numberFile(dir), backup);
    // A day of CRLs after the backup: a revocation storm (5,000 deltas within two seconds), then one complete CRL an hour.
    for (let i = 0; i < 5_000; i++, now += 0.4) published.push(numbers.next());
    for (let h = 0; h < 24; h++, now += 3_600_000) published.push(numbers.next());

    // Restored the next day, the number file with it, and opened again.
    copyFileSync(backup, numberFile(dir));
    now += 3_600_000;
    numbers = fileCrlNumbers(dir, ca, () => now);
    const after = [numbers.next(), numbers.next()];
    expect(after[0]).toBeGreaterThan(Math.max(...published));
    expect(after[1]).toBe(after[0]! + 1);
    // Strictly increasing throughout, before the restore too.
    expect(published.every((n, i) => i === 0 || n > published[i - 1]!)).toBe(true);
  });

  it('keep increasing when the clock is set back, and across a restart', () => {
    const dir = folder();
    let now = T0;
    let numbers = fileCrlNumbers(dir, ca, () => now);
    const seen = [numbers.next(), numbers.next()];
    now -= 86_400_000;
    seen.push(numbers.next());
    numbers = fileCrlNumbers(dir, ca, () => now);
    seen.push(numbers.next());
    now = T0 + 1_000;
    seen.push(numbers.next());
    expect(seen.every((n, i) => i === 0 || n > seen[i - 1]!)).toBe(true);
    // They follow the clock: the first is its second's floor.
    expect(seen[0]).toBe((T0 / 1000) * 1000);
  });

  it('refuse a clock that gives no time', () => {
    const numbers = fileCrlNumbers(folder(), ca, () => Number.NaN);
    expect(() => numbers.next()).toThrow(/^now: must be a time in ms after 1970$/);
  });
});
