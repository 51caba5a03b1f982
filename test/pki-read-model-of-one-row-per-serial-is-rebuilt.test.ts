import { describe, expect, it } from 'vitest';
import { setupPkiTables } from '../projections/pki/tables.ts';
import { expectRebuildMarkedOnce, pkiReadModelOfAnEarlierVersion } from './support/pki-read-model-of-an-earlier-version.ts';

/*
 * The pki read model kept one credential per (CA, serial) until a certificate could be each of several credentials'
 * (8b6a332): a read model an earlier version built has dropped the second credential's row, so that credential's
 * revocation would reach no CRL. Opened by this version it is emptied and rebuilt from the log, and until the rebuild
 * reaches where it had got to, it says it is incomplete (the CRL and OCSP signers wait on that).
 */
describe('a pki read model built with one row per serial', () => {
  it('is emptied, its checkpoint dropped, and marked incomplete until the rebuild reaches where it was', () => {
    // The earlier version's tables, with a row and a revocation, projected to position 42.
    const db = pkiReadModelOfAnEarlierVersion(`CREATE TABLE pki_certificates (credential_id TEXT PRIMARY KEY, ca_id TEXT NOT NULL, serial TEXT NOT NULL, not_after TEXT NOT NULL) WITHOUT ROWID;
      CREATE UNIQUE INDEX pki_certificates_serial ON pki_certificates (ca_id, serial);
      INSERT INTO pki_certificates VALUES ('cred-a', 'default', '7f01', '2027-01-01T00:00:00.000Z');`);

    setupPkiTables(db);

    expect(db.prepare('SELECT COUNT(*) AS n FROM pki_certificates').get()).toEqual({ n: 0n });
    expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'pki_certificates' AND sql IS NOT NULL").all()).toEqual([
      { name: 'pki_certificates_by_serial' },
      { name: 'pki_certificates_by_expiry' },
    ]);
    expectRebuildMarkedOnce(db);
  });
});
