import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { setupPkiTables } from '../projections/pki/tables.ts';
import { expectRebuildMarkedOnce, pkiReadModelOfAnEarlierVersion } from './support/pki-read-model-of-an-earlier-version.ts';
import type { TestLeaf } from './support/pki-test-ca.ts';
import { crlListing, crlRevocationDate, ocspRevocationTime, rotationHandedOverLate } from './support/revocation-dates.ts';
import type { TestService } from './support/service.ts';

/*
 * Review 171 (HLR-212, RS-16): a rotation's predecessor is revoked as superseded at the end of its overlap, and the
 * service refuses it from then on (`credentialUsable`, judged at `handoverInstant`). The `pki` read model dated the
 * revocation when the scheduler recorded it: after a downtime (overlap ending at +2 h, first tick at +26 h) CRLs and
 * OCSP said the certificate was valid for 24 h the service did not accept. RFC 5280 5.3.2 revocationDate is the date
 * the revocation occurred: the handover.
 */
const HOUR = 3_600_000;

describe('a predecessor superseded at the end of its overlap, recorded by a scheduler that ticked a day late', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-superseded-date-'));
  const start = Math.floor(Date.now() / 1000) * 1000;
  const clock = new FakeClock(new Date(start));
  const overlapEndsAt = start + 2 * HOUR;
  let svc: TestService;
  let leaf: TestLeaf;

  beforeAll(async () => {
    // Given cred-1 (certified by the CA) rotating onto cred-2, both provisioned, the overlap ending at +2 h; when the
    // service's scheduler first ticks at +26 h.
    ({ svc, leaf } = await rotationHandedOverLate(dir, clock, overlapEndsAt, start + 26 * HOUR));
  }, 60_000);
  afterAll(async () => {
    await svc?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is dated at overlapEndsAt on the complete CRL and on the delta CRL issued after it', async () => {
    expect(crlRevocationDate(await crlListing(svc, 'crl', leaf.serialNumber), leaf.serialNumber)).toBe(overlapEndsAt);
    expect(crlRevocationDate(await crlListing(svc, 'delta-crl', leaf.serialNumber), leaf.serialNumber)).toBe(overlapEndsAt);
  });

  it('is answered revoked by OCSP with revocationTime overlapEndsAt', async () => {
    expect(await ocspRevocationTime(svc, leaf)).toBe(overlapEndsAt);
  });
});

describe('a pki read model written before the rotations under way were kept', () => {
  it('is emptied and rebuilt from the log, incomplete until it reaches where it was: its handovers are dated again', () => {
    // The previous version's tables (issuer_key_id, no pki_rotations), with a revoked certificate, projected to 42.
    const db = pkiReadModelOfAnEarlierVersion(`CREATE TABLE pki_certificates (credential_id TEXT PRIMARY KEY, ca_id TEXT NOT NULL, serial TEXT NOT NULL, not_after TEXT NOT NULL, issuer_key_id TEXT) WITHOUT ROWID;
      CREATE TABLE pki_revocations (seq INTEGER PRIMARY KEY, ca_id TEXT NOT NULL, serial TEXT NOT NULL, credential_id TEXT NOT NULL,
        revoked_at TEXT NOT NULL, reason TEXT NOT NULL, not_after TEXT NOT NULL, entry BLOB NOT NULL);
      INSERT INTO pki_certificates VALUES ('cred-a', 'default', '7f01', '2027-01-01T00:00:00.000Z', NULL);
      INSERT INTO pki_revocations VALUES (1, 'default', '7f01', 'cred-a', '2026-05-02T00:00:00.000Z', 'superseded', '2027-01-01T00:00:00.000Z', x'00');`);

    setupPkiTables(db);

    expect(db.prepare('SELECT COUNT(*) AS n FROM pki_certificates').get()).toEqual({ n: 0n });
    expect(db.prepare('SELECT COUNT(*) AS n FROM pki_revocations').get()).toEqual({ n: 0n });
    expectRebuildMarkedOnce(db);
  });
});
