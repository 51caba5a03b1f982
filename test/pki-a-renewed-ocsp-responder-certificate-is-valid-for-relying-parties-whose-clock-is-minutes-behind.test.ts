/**
 * Found in review 464: a renewed OCSP responder certificate began only a minute before its renewal, and right after a
 * renewal the answer cache is cleared, so every answer carries the new certificate. OpenSSL lets an answer's
 * thisUpdate be 5 minutes ahead of the relying party's clock, but rejects a responder certificate not yet valid: a
 * relying party whose clock was 1 to 5 minutes slow rejected every answer for up to 5 minutes after each renewal.
 * Responder certificates now begin an hour back (beyond that tolerance), never before their CA.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { OcspSigningKey } from '../adapters/driven/pki/ocsp-signing-key.ts';
import { systemRandom } from '../adapters/runtime/index.ts';
import { ownerView } from '../domain/ports/index.ts';
import { issuerOf } from '../domain/x509/issuance/index.ts';
import { memorySecureEnvironment } from './crypto-fixtures.ts';
import { hasOpenssl, OpenSslDir, pem } from './support/openssl.ts';
import { testCa } from './support/pki-test-ca.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const wholeSecond = (ms: number): number => Math.floor(ms / 1000) * 1000;

const files = new OpenSslDir('credence-ocsp-responder-backdated-');
afterAll(() => files.remove());

/** A signer opened under `ca` at `openedAt` (by default 6 days back: the reviewer's reproduction), then renewed at `renewal`. */
const renewedAt = async (ca: Awaited<ReturnType<typeof testCa>>, renewal: number, openedAt = renewal - 6 * DAY, validityMs?: number) => {
  const clock = { now: openedAt };
  const se = ownerView(memorySecureEnvironment('ocsp-responder-backdated', () => new Date(clock.now)), 'maf:infrastructure');
  const key = await OcspSigningKey.open({ se, ca, random: systemRandom, now: () => clock.now, ...(validityMs === undefined ? {} : { validityMs }) });
  const before = key.current.certificate;
  clock.now = renewal;
  expect(await key.renewIfDue()).toBe(true);
  expect(key.current.certificate).not.toEqual(before);
  return key.current;
};

describe('a renewed OCSP responder certificate', () => {
  it('begins an hour before its renewal, beyond the 5 minutes OpenSSL allows a relying party clock to be behind', async () => {
    const renewal = Date.now();
    const ca = await testCa('default', 'p256', renewal - 30 * DAY);
    const responder = await renewedAt(ca, renewal);
    expect(responder.notBefore).toBe(wholeSecond(renewal) - HOUR);
    expect(renewal - responder.notBefore).toBeGreaterThanOrEqual(5 * MINUTE);
    expect(issuerOf(responder.certificate).notBefore.getTime()).toBe(responder.notBefore);
    expect(responder.notBefore).toBeGreaterThanOrEqual(issuerOf(ca.certificate).notBefore.getTime());
    if (hasOpenssl()) {
      files.write('ca.pem', ca.pem);
      files.write('responder.pem', pem('CERTIFICATE', responder.certificate));
      // A relying party whose clock is 90 s behind the renewal (the reviewer's reproduction) and one 5 minutes behind.
      for (const behind of [90_000, 5 * MINUTE]) {
        const r = await files.run(['verify', '-attime', String(Math.floor((renewal - behind) / 1000)), '-CAfile', 'ca.pem', 'responder.pem']);
        expect(r.stdout.trim(), r.stderr).toBe('responder.pem: OK');
      }
    }
  });

  it('still begins no earlier than a CA that began less than an hour before the renewal', async () => {
    const renewal = Date.now();
    // testCa's certificate begins a day before the `now` it is given: here 10 minutes before the renewal.
    const ca = await testCa('default', 'p256', renewal + DAY - 10 * MINUTE);
    const caBegins = issuerOf(ca.certificate).notBefore.getTime();
    // Opened as the CA began, valid 12 minutes: two thirds of that have passed at the renewal.
    const responder = await renewedAt(ca, renewal, caBegins, 12 * MINUTE);
    expect(responder.notBefore).toBe(caBegins);
    expect(issuerOf(responder.certificate).notBefore.getTime()).toBe(caBegins);
  });
});
