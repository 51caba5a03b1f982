import { describe, expect, it } from 'vitest';
import { DEFAULT_OCSP_SIGNER_VALIDITY_MS, OcspSigningKey } from '../adapters/driven/pki/ocsp-signing-key.ts';
import { systemRandom } from '../adapters/runtime/index.ts';
import { ownerView } from '../domain/ports/index.ts';
import { issuerOf } from '../domain/x509/issuance/index.ts';
import { memorySecureEnvironment } from './crypto-fixtures.ts';
import { testCa } from './support/pki-test-ca.ts';

/*
 * Found in review 21: the delegated OCSP responder's certificate was issued for a week from now whatever the CA's own
 * validity, so near the CA's end it outlived its issuer, which fails a relying party's path validation (RFC 5280
 * 6.1.3) just when the CA's last answers matter. It now ends no later than the CA.
 */
const DAY = 86_400_000;
const open = async (caShiftedBy: number) => {
  const now = Date.now();
  // testCa's CA is valid from a day before `now` to 365 days after it.
  const ca = await testCa('default', 'p256', now + caShiftedBy);
  const se = memorySecureEnvironment('ocsp-responder-validity', () => new Date(now));
  const key = () => OcspSigningKey.open({ se: ownerView(se, 'maf:infrastructure'), ca, random: systemRandom, now: () => now });
  return { now, ca, key };
};

describe("the OCSP responder's certificate", () => {
  it('is issued for its usual validity under a CA that lasts longer', async () => {
    const { now, key } = await open(0);
    const { notAfter } = (await key()).current;
    expect(notAfter - Math.floor(now / 1000) * 1000).toBe(DEFAULT_OCSP_SIGNER_VALIDITY_MS);
  });

  it("ends with the CA when the CA ends sooner than that", async () => {
    const { ca, key } = await open(-362 * DAY);
    expect((await key()).current.notAfter).toBe(issuerOf(ca.certificate).notAfter.getTime());
  });

  it('is not issued under a CA that has ended, and the refusal says so', async () => {
    const { key } = await open(-400 * DAY);
    await expect(key()).rejects.toThrow(/CA default ended at .*: no OCSP responder certificate can be issued under it/);
  });
});
