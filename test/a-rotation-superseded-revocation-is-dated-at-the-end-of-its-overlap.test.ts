import { describe, expect, it } from 'vitest';
import { setupPkiTables } from '../projections/pki/tables.ts';
import { expectRebuildMarkedOnce, pkiReadModelOfAnEarlierVersion } from './support/pki-read-model-of-an-earlier-version.ts';
import { crlListing, crlRevocationDate, ocspRevocationTime, useRotationHandedOverLate } from './support/revocation-dates.ts';

/*
 * Review 171 (HLR-212, RS-16): a rotation's predecessor is revoked as superseded at the end of its overlap, and the
 * service refuses it from then on (`credentialUsable`, judged at `handoverInstant`). The `pki` read model dated the
 * revocation when the scheduler recorded it: after a downtime (overlap ending at +2 h, first tick at +26 h) CRLs and
 * OCSP said the certificate was valid for 24 h the service did not accept. RFC 5280 5.3.2 revocationDate is the date
 * the revocation occurred: the handover.
 */

describe('a predecessor superseded at the end of its overlap, recorded by a scheduler that ticked a day late', () => {
  // Given cred-1 (certified by the CA) rotating onto cred-2, both provisioned, the overlap ending at +2 h; when the
  // service's scheduler first ticks at +26 h.
  const scene = useRotationHandedOverLate('credence-superseded-date-');
  const { overlapEndsAt } = scene;

  it('is dated at overlapEndsAt on the complete CRL and on the delta CRL issued after it', async () => {
    expect(crlRevocationDate(await crlListing(scene.svc, 'crl', scene.leaf.serialNumber), scene.leaf.serialNumber)).toBe(overlapEndsAt);
    expect(crlRevocationDate(await crlListing(scene.svc, 'delta-crl', scene.leaf.serialNumber), scene.leaf.serialNumber)).toBe(overlapEndsAt);
  });

  it('is answered revoked by OCSP with revocationTime overlapEndsAt', async () => {
    expect(await ocspRevocationTime(scene.svc, scene.leaf)).toBe(overlapEndsAt);
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
