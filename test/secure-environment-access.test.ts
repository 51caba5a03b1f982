/**
 * Security issue 11 item 9: the production class has no way to export key bytes. The port-level access rules
 * (owners, allow-lists, one usage per key, derived keys never leave, seal and wrap kept apart) are in the
 * conformance suite, test/secure-environment-conformance.suite.ts, run against every implementation.
 */
import { describe, expect, it } from 'vitest';
import { EmbeddedSecureEnvironment } from '../adapters/driven/secure-environment/embedded.ts';
import { Pkcs11SecureEnvironment } from '../adapters/driven/secure-environment/pkcs11/index.ts';
import { fakeClock, seededRandom } from './crypto-fixtures.ts';

const clock = fakeClock();
const open = (extra: Record<string, unknown> = {}) =>
  EmbeddedSecureEnvironment.open({ database: ':memory:', kek: { source: 'ephemeral' }, ...extra }, { now: clock.now, random: seededRandom('access') });

describe('the production class cannot export key bytes', () => {
  it('has no exportForTest (or any other export) method, nor has the PKCS#11 one', () => {
    const se = open();
    expect('exportForTest' in se).toBe(false);
    expect(Object.getOwnPropertyNames(EmbeddedSecureEnvironment.prototype).filter((name) => /export/i.test(name))).toEqual([]);
    se.close();
    expect(Object.getOwnPropertyNames(Pkcs11SecureEnvironment.prototype).filter((name) => /export/i.test(name))).toEqual([]);
  });
});
