import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import Database from 'better-sqlite3';
import type { FastifyBaseLogger } from 'fastify';
import { describe, expect, it, vi } from 'vitest';
import { warnIfCertificatesNameAnotherUrl } from '../adapters/http/certificates-name-another-url.ts';
import type { Credence } from '../adapters/runtime/index.ts';
import { toBase64url } from '../domain/crypto/base64url.ts';
import { pkiUrls, type IssuingCa } from '../domain/x509/issuing-ca.ts';
import { PKI_INSTANCE_TABLES } from '../projections/pki/instance-holders.ts';
import { PKI_HOLDERS_TABLES } from '../projections/pki/owner-endings.ts';
import { PKI_SUBSCRIPTION_MOVES_TABLES } from '../projections/pki/subscription-moves.ts';
import { setupPkiTables } from '../projections/pki/tables.ts';
import { readCheckpoint } from '../projections/runtime/index.ts';
import { setupCheckpoints, writeCheckpoint } from '../projections/runtime/checkpoints.ts';
import { der, rootCa } from './x509-fixtures.ts';

// The start's warning that a folder's certificates name another URL read `... WHERE ca_id IN (...) ORDER BY not_after
// DESC LIMIT 1` from a table indexed by (ca_id, serial) only: every certificate read and sorted at every start (a
// fleet of a million: a long stall before the service listens). It now reads each CA's longest-lived certificate down
// a (ca_id, not_after) index, and judges each CA on its own.

const THIS_URL = 'http://127.0.0.1:8080';
const OLD_URL = 'http://127.0.0.1:9000';
const cas = ['ca-a', 'ca-b'].map((id) => ({ id }) as IssuingCa);

const readModels = (): Database.Database => {
  const db = new Database(':memory:');
  db.defaultSafeIntegers(true);
  setupCheckpoints(db);
  setupPkiTables(db);
  return db;
};

const certificateNaming = async (crl: string) =>
  toBase64url(der((await rootCa('CN=node', '2026-01-01', '2030-01-01', { extraExtensions: [new x509.CRLDistributionPointsExtension([crl])] })).cert));

/** A Credence of the read model `db` and of the credentials' CredentialIssued events (certificate DER, issuing CA). */
const credenceOf = (db: Database.Database, issued: Record<string, { readonly caId: string; readonly der: string }>) =>
  ({
    readModels: db,
    store: {
      readStream: async (stream: string) => {
        const credential = issued[stream.replace(/^credential-/, '')];
        if (credential === undefined) return [];
        const certificate = {
          fingerprint: `sha256:${'0'.repeat(64)}`, subject: 'CN=node', notBefore: '2026-01-01T00:00:00.000Z', notAfter: '2030-01-01T00:00:00.000Z',
          der: credential.der, issuingCa: credential.caId,
        };
        return [{ type: 'CredentialIssued', data: { certificate } }];
      },
    },
  }) as unknown as Credence;

const recordingLog = () => {
  const warnings: { fields: Record<string, unknown>; msg: string }[] = [];
  const log = { warn: (fields: Record<string, unknown>, msg: string) => warnings.push({ fields, msg }) } as unknown as FastifyBaseLogger;
  return { log, warnings };
};

const insert = (db: Database.Database, credentialId: string, caId: string, notAfter: string) =>
  db.prepare('INSERT INTO pki_certificates (credential_id, ca_id, serial, not_after) VALUES (?, ?, ?, ?)').run(credentialId, caId, credentialId, notAfter);

describe("the start's check of the URL a folder's certificates name", () => {
  it("reads each CA's longest-lived certificate down the (ca_id, not_after) index: a search, no scan, nothing sorted", async () => {
    const db = readModels();
    for (let i = 0; i < 200; i++) insert(db, `cred-${i}`, cas[i % 2]!.id, new Date(Date.UTC(2027, 0, 1) + i * 86_400_000).toISOString());
    const prepare = vi.spyOn(db, 'prepare');
    await warnIfCertificatesNameAnotherUrl({ credence: credenceOf(db, {}), cas, publicUrl: THIS_URL, log: recordingLog().log });
    const reads = prepare.mock.calls.map(([sql]) => sql).filter((sql) => sql.includes('pki_certificates'));
    prepare.mockRestore();
    expect(reads).not.toEqual([]);
    for (const sql of reads) {
      const params = sql.split('?').length - 1;
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...cas.slice(0, params).map((ca) => ca.id)) as { detail: string }[]).map((r) => r.detail);
      expect(plan, sql).toEqual([expect.stringMatching(/^SEARCH pki_certificates USING (COVERING )?INDEX pki_certificates_by_expiry \(ca_id=\?\)$/)]);
    }
    db.close();
  });

  it('a read model written before the index gains it when opened, its rows and checkpoint kept (no rebuild)', () => {
    const db = new Database(':memory:');
    db.defaultSafeIntegers(true);
    setupCheckpoints(db);
    // With the issuing key's column (review 127), the holders' tables (review 306), the moves' tables (review 397, with
    // the CSE-ID review 402 keeps) and the App-ID instances' tables (review 402), which an earlier file lacks and is
    // rebuilt for: the index alone is added in place.
    db.exec(`CREATE TABLE pki_certificates (credential_id TEXT PRIMARY KEY, ca_id TEXT NOT NULL, serial TEXT NOT NULL, not_after TEXT NOT NULL, issuer_key_id TEXT) WITHOUT ROWID;
      CREATE INDEX pki_certificates_by_serial ON pki_certificates (ca_id, serial);
      ${PKI_HOLDERS_TABLES};
      ${PKI_SUBSCRIPTION_MOVES_TABLES};
      ${PKI_INSTANCE_TABLES};
      -- Its schema version, as this version keeps it (review 411): a folder without it is rebuilt.
      CREATE TABLE IF NOT EXISTS projection_schemas (name TEXT PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID;
      INSERT INTO projection_schemas VALUES ('pki', 9);`);
    insert(db, 'cred-a', 'ca-a', '2027-01-01T00:00:00.000Z');
    writeCheckpoint(db, 'pki', { position: 42n, occurredAt: '2026-06-01T00:00:00.000Z' });

    setupPkiTables(db);

    expect(db.prepare("SELECT 1 AS found FROM sqlite_master WHERE type = 'index' AND name = 'pki_certificates_by_expiry'").get()).toEqual({ found: 1n });
    expect(db.prepare('SELECT credential_id FROM pki_certificates').all()).toEqual([{ credential_id: 'cred-a' }]);
    expect(readCheckpoint(db, 'pki')?.position).toBe(42n);
    db.close();
  });

  it("warns naming the CA whose longest-lived certificate names another URL, though another CA's, living longer, names this one", async () => {
    const db = readModels();
    insert(db, 'cred-a-old', 'ca-a', '2027-01-01T00:00:00.000Z');
    insert(db, 'cred-a-new', 'ca-a', '2031-01-01T00:00:00.000Z');
    insert(db, 'cred-b-old', 'ca-b', '2026-06-01T00:00:00.000Z');
    insert(db, 'cred-b-new', 'ca-b', '2029-01-01T00:00:00.000Z');
    const credence = credenceOf(db, {
      'cred-a-new': { caId: 'ca-a', der: await certificateNaming(pkiUrls(THIS_URL, 'ca-a').crl) },
      'cred-b-new': { caId: 'ca-b', der: await certificateNaming(pkiUrls(OLD_URL, 'ca-b').crl) },
    });
    const { log, warnings } = recordingLog();

    await warnIfCertificatesNameAnotherUrl({ credence, cas, publicUrl: THIS_URL, log });

    expect(warnings).toEqual([
      {
        fields: { publicUrl: THIS_URL, certificatesUrl: OLD_URL, caId: 'ca-b', credentialId: 'cred-b-new' },
        msg: expect.stringContaining(`name ${OLD_URL} for their CRL and OCSP (those of CA ca-b), but this start serves at ${THIS_URL}`),
      },
    ]);
    db.close();
  });
});
