import Database from 'better-sqlite3';
import { expect } from 'vitest';
import { pkiCompleteness } from '../../projections/pki/index.ts';
import { setupPkiTables } from '../../projections/pki/tables.ts';
import { readCheckpoint } from '../../projections/runtime/index.ts';
import { setupCheckpoints, writeCheckpoint } from '../../projections/runtime/checkpoints.ts';

/**
 * The two tables every earlier version made alike (pki_certificates with its issuing key, pki_revocations before it
 * kept invalidity dates), holding cred-a's certificate revoked as `reason`: the tables an earlier version added are
 * given beside them (`others`).
 */
export const revokedCertificateOfAnEarlierVersion = (reason: string, others = ''): string =>
  `CREATE TABLE pki_certificates (credential_id TEXT PRIMARY KEY, ca_id TEXT NOT NULL, serial TEXT NOT NULL, not_after TEXT NOT NULL, issuer_key_id TEXT) WITHOUT ROWID;
  CREATE TABLE pki_revocations (seq INTEGER PRIMARY KEY, ca_id TEXT NOT NULL, serial TEXT NOT NULL, credential_id TEXT NOT NULL,
    revoked_at TEXT NOT NULL, reason TEXT NOT NULL, not_after TEXT NOT NULL, entry BLOB NOT NULL);
  ${others}
  INSERT INTO pki_certificates VALUES ('cred-a', 'default', '7f01', '2027-01-01T00:00:00.000Z', NULL);
  INSERT INTO pki_revocations VALUES (1, 'default', '7f01', 'cred-a', '2026-05-02T00:00:00.000Z', '${reason}', '2027-01-01T00:00:00.000Z', x'00');`;

/** An in-memory read model holding the pki tables an earlier version made (`tables`: their SQL and rows), projected to position 42. */
export const pkiReadModelOfAnEarlierVersion = (tables: string): Database.Database => {
  const db = new Database(':memory:');
  db.defaultSafeIntegers(true);
  setupCheckpoints(db);
  db.exec(tables);
  writeCheckpoint(db, 'pki', { position: 42n, occurredAt: '2026-06-01T00:00:00.000Z' });
  return db;
};

/**
 * That read model, emptied by `setupPkiTables`, has its checkpoint dropped and says it is incomplete until the rebuild
 * reaches 42; opened again, nothing more happens (the rebuild it marked stands). Closes `db`.
 */
export const expectRebuildMarkedOnce = (db: Database.Database): void => {
  expect(readCheckpoint(db, 'pki')).toBeUndefined();
  expect(pkiCompleteness(db)).toEqual({ complete: false, position: undefined, until: 42n });
  db.exec("INSERT INTO pki_certificates (credential_id, ca_id, serial, not_after) VALUES ('cred-a', 'default', '7f01', '2027-01-01T00:00:00.000Z')");
  setupPkiTables(db);
  expect(db.prepare('SELECT COUNT(*) AS n FROM pki_certificates').get()).toEqual({ n: 1n });
  db.close();
};

/** The read model `setupPkiTables` found of an earlier version: emptied, and marked to be rebuilt once (above). */
export const expectEmptiedAndRebuildMarked = (db: Database.Database): void => {
  expect(db.prepare('SELECT COUNT(*) AS n FROM pki_certificates').get()).toEqual({ n: 0n });
  expect(db.prepare('SELECT COUNT(*) AS n FROM pki_revocations').get()).toEqual({ n: 0n });
  expectRebuildMarkedOnce(db);
};
