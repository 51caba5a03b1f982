import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as pkijs from 'pkijs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { createRootCa } from '../adapters/driven/pki/index.ts';
import { openDataFolderSecureEnvironment, systemRandom } from '../adapters/runtime/index.ts';
import { crlTimes } from '../adapters/runtime/pki-crl-times.ts';
import { ownerView } from '../domain/ports/index.ts';
import { chainValidity } from '../domain/x509/issuance/index.ts';
import { issueCertifiedCredentialWith, pkiOf, revokeAndSettle } from './support/pki-test-ca.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 82 (left over): a CRL signed within a day of its CA's end said nextUpdate = thisUpdate + 24 h, after the CA's
 * notAfter. nextUpdate is when the next CRL will be issued (RFC 5280 5.1.2.5); a CA that has ended issues none, and a
 * relying party must not be told to trust a CRL past its issuer's validity. The CRL, and the Expires header a cache
 * keeps it by, now end no later than the CA; a CA ending within the second a CRL would be dated in signs none.
 */
const SUB = 'sub-1';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const timesOf = (der: Uint8Array): { thisUpdate: number; nextUpdate: number } => {
  const crl = pkijs.CertificateRevocationList.fromBER(Uint8Array.from(der));
  return { thisUpdate: crl.thisUpdate.value.getTime(), nextUpdate: crl.nextUpdate!.value.getTime() };
};

describe("a CRL signed shortly before its CA's certificate ends", () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-crl-clamped-'));
  const clock = new FakeClock(new Date());
  let svc: TestService;
  let endsAt: number;
  beforeAll(async () => {
    const se = openDataFolderSecureEnvironment(dir, { now: () => clock.now() });
    try {
      const infra = ownerView(se, 'maf:infrastructure');
      await createRootCa({ dataDir: dir, se: infra, id: 'default', kind: 'p256', now: clock.now(), random: systemRandom });
      await createRootCa({ dataDir: dir, se: infra, id: SUB, kind: 'p256', now: clock.now(), random: systemRandom, validityDays: 2 });
    } finally {
      se.close();
    }
    svc = await startTestService({ dir, clock });
    const ca = pkiOf(svc).cas.find((c) => c.id === SUB)!;
    endsAt = chainValidity(ca).notAfter.getTime();
    for (const id of ['cred-6h', 'cred-20m', 'cred-last-second']) {
      await issueCertifiedCredentialWith(svc.service.context.credence, ca, svc.url, id, 'meter-1', { validityMs: 3 * DAY });
    }
  }, 60_000);
  afterAll(async () => {
    await svc?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Revokes a credential of CA `sub-1` (issued at the start), so that its next CRLs are signed now. */
  const revokeOneNow = (credentialId: string): Promise<void> => revokeAndSettle(svc, credentialId);

  const fetchCrl = async (path: 'crl' | 'delta-crl') => {
    const reply = await fetch(`${svc.url}/pki/${SUB}/${path}`);
    expect(reply.status).toBe(200);
    const der = new Uint8Array(await reply.arrayBuffer());
    return { ...timesOf(der), expires: reply.headers.get('expires') };
  };

  it('says nextUpdate no later than the CA ends, and caches keep it no longer (Expires)', async () => {
    // Given a CA ending in 6 hours, whose complete CRL (valid 24 h) is signed now.
    clock.advance(endsAt - 6 * HOUR - clock.now().getTime());
    await revokeOneNow('cred-6h');
    const full = await fetchCrl('crl');
    expect(full.thisUpdate).toBeGreaterThanOrEqual(endsAt - 6 * HOUR - 1000);
    expect(full.nextUpdate).toBe(endsAt);
    expect(full.expires).toBe(new Date(endsAt).toUTCString());
    // The delta (valid 1 h) ends before the CA does: untouched.
    const delta = await fetchCrl('delta-crl');
    expect(delta.nextUpdate - delta.thisUpdate).toBe(HOUR);

    // When the CA ends in 20 minutes, the delta is cut short too.
    clock.advance(endsAt - 20 * MINUTE - clock.now().getTime());
    await revokeOneNow('cred-20m');
    const lastDelta = await fetchCrl('delta-crl');
    expect(lastDelta.nextUpdate).toBe(endsAt);
    expect(lastDelta.expires).toBe(new Date(endsAt).toUTCString());
    expect((await fetchCrl('crl')).nextUpdate).toBe(endsAt);
  }, 60_000);

  it('within its last second, is valid until the end of that second: the CA ends as the CRL does', async () => {
    clock.advance(endsAt - 400 - clock.now().getTime());
    await revokeOneNow('cred-last-second');
    const full = await fetchCrl('crl');
    expect(full).toMatchObject({ thisUpdate: endsAt - 1000, nextUpdate: endsAt, expires: new Date(endsAt).toUTCString() });
  }, 60_000);
});

describe("a CRL's times", () => {
  const end = Date.UTC(2030, 0, 1);
  it('are thisUpdate + validity while the CA outlives them, and end at the CA otherwise, in whole seconds', () => {
    expect(crlTimes(end - 2 * HOUR + 250, HOUR, end)).toEqual({ thisUpdate: end - 2 * HOUR, nextUpdate: end - HOUR });
    expect(crlTimes(end - HOUR + 250, 24 * HOUR, end)).toEqual({ thisUpdate: end - HOUR, nextUpdate: end });
    // A chain end within a second (never from a certificate, whose times are whole seconds) counts to its second.
    expect(crlTimes(end - 5000, 24 * HOUR, end + 700)).toEqual({ thisUpdate: end - 5000, nextUpdate: end });
  });

  it('are none when nextUpdate would be thisUpdate: the CA ends within the second the CRL would be dated in', () => {
    expect(crlTimes(end + 100, 24 * HOUR, end + 700)).toBeUndefined();
  });
});
