import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileCrlNumbers } from '../adapters/driven/pki/crl-numbers.ts';
import { CaId } from '../domain/x509/issuing-ca.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * CRL numbers follow the clock (crl-numbers.ts): a clock far in the future takes them to where a reservation would
 * pass the number file's own bound (reservedThrough <= MAX_SAFE_INTEGER - 1000). Such a reservation must be refused
 * before it is written: once written, every later start refuses the file and the CA publishes no CRL at all.
 */

const folder = temporaryFolders('credence-crl-numbers-bound-');
const ca = CaId.parse('default');
const numberFile = (dir: string): string => join(dir, 'pki', 'default.crl-number.json');
/** The last clock (ms, a whole second) whose block of numbers the file can still hold. */
const LAST_CLOCK = Math.floor((Number.MAX_SAFE_INTEGER - 1000 - 999) / 1000) * 1000;

describe('CRL numbers near the end of what their file holds', () => {
  it('refuse a reservation past the file bound and write nothing', () => {
    const dir = folder();
    const numbers = fileCrlNumbers(dir, ca, () => LAST_CLOCK + 1000);
    expect(() => numbers.next()).toThrow(new RangeError(`CRL numbers: ${LAST_CLOCK + 1000} is past the last number CA default can reserve`));
    expect(existsSync(numberFile(dir))).toBe(false);
  });

  it('give the last block the file holds, and the file still opens after it', () => {
    const dir = folder();
    expect(fileCrlNumbers(dir, ca, () => LAST_CLOCK).next()).toBe(LAST_CLOCK);
    const written = readFileSync(numberFile(dir), 'utf8');
    const reopened = fileCrlNumbers(dir, ca, () => LAST_CLOCK);
    // Nothing left to reserve: refused, and the file that was there is left as it was.
    expect(() => reopened.next()).toThrow(RangeError);
    expect(readFileSync(numberFile(dir), 'utf8')).toBe(written);
  });
});
