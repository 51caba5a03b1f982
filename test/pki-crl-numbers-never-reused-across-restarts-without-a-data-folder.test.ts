import { describe, expect, it } from 'vitest';
import { memoryCrlNumbers } from '../adapters/driven/pki/crl-numbers.ts';
import { openCredence, openDataFolderSecureEnvironment, startPkiRevocation, systemClock, systemRandom } from '../adapters/runtime/index.ts';
import { ownerView } from '../domain/ports/index.ts';
import { crlNumberOf, PKI_TEST_URL } from './support/pki-instance.ts';
import { testCa } from './support/pki-test-ca.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * RFC 5280 5.2.3: a CA's CRL numbers are strictly increasing; a relying party that holds CRL n ignores another CRL
 * numbered n. Without a data folder the numbers are kept in memory, but the CA key can outlive the process (an HSM,
 * or `cas` given to startPkiRevocation without `dataDir`): they started at 1 again at every start, reusing numbers
 * the CA had published under other contents. The clock is their floor, as for a data folder's numbers.
 */

const folder = temporaryFolders('credence-crl-numbers-memory-');
const T0 = Date.parse('2026-06-01T00:00:00.000Z');

describe('CRL numbers kept in memory', () => {
  it('are above every number published before a restart', () => {
    let now = T0;
    const published: number[] = [];
    let numbers = memoryCrlNumbers(() => now);
    // A revocation storm (5,000 deltas within two seconds), then a day of one complete CRL an hour.
    for (let i = 0; i < 5_000; i++, now += 0.4) published.push(numbers.next());
    for (let h = 0; h < 24; h++, now += 3_600_000) published.push(numbers.next());

    // The process restarts a minute later: nothing of the numbers is left but the clock.
    now += 60_000;
    numbers = memoryCrlNumbers(() => now);
    const after = [numbers.next(), numbers.next()];
    expect(after[0]).toBeGreaterThan(Math.max(...published));
    expect(after[1]).toBe(after[0]! + 1);
    expect(published.every((n, i) => i === 0 || n > published[i - 1]!)).toBe(true);
  });

  it('follow the clock from the first, and keep increasing when it is set back', () => {
    let now = T0;
    const numbers = memoryCrlNumbers(() => now);
    const seen = [numbers.next()];
    now -= 86_400_000;
    seen.push(numbers.next());
    expect(seen[0]).toBe((T0 / 1000) * 1000);
    expect(seen[1]).toBe(seen[0]! + 1);
  });

  it('refuse a clock that gives no time', () => {
    expect(() => memoryCrlNumbers(() => Number.NaN).next()).toThrow(/^now: must be a time in ms after 1970$/);
  });

  it('of a CA whose key outlives the instance: the complete CRL after a restart is numbered above the one before', async () => {
    const dir = folder();
    const se = openDataFolderSecureEnvironment(dir, { now: () => new Date() });
    // The CA's key is held outside the instance (as in an HSM): the same CA is passed to both starts, no dataDir.
    const ca = await testCa('default', 'p256');
    let now = Date.now();
    const firstCrlNumber = async (): Promise<number> => {
      const credence = openCredence({ location: { dir }, clock: systemClock });
      const pki = await startPkiRevocation({ credence, cas: [ca], baseUrl: PKI_TEST_URL, se: ownerView(se, 'maf:infrastructure'), random: systemRandom, now: () => now });
      try {
        return crlNumberOf((await pki.crl('default')!.full()).der);
      } finally {
        pki.stop();
        await credence.close();
      }
    };
    try {
      const before = await firstCrlNumber();
      now += 60_000;
      const after = await firstCrlNumber();
      expect(after).toBeGreaterThan(before);
    } finally {
      se.close();
    }
  }, 60_000);
});
