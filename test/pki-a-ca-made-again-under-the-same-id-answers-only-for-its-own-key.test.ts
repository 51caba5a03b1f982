import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Credence, PkiRevocation } from '../adapters/runtime/index.ts';
import { revocationIssuer } from '../domain/x509/revocation/index.ts';
import { certificatesOfAnotherKey, pkiCompleteness } from '../projections/pki/index.ts';
import { setupPkiTables } from '../projections/pki/tables.ts';
import { readCheckpoint } from '../projections/runtime/index.ts';
import { setupCheckpoints, writeCheckpoint } from '../projections/runtime/checkpoints.ts';
import { cmd } from './support/fleet.ts';
import { ocspRequest, ocspStatus } from './support/ocsp-client.ts';
import { closePkiInstance, dataFolderPki, PKI_TEST_URL, serialsOf } from './support/pki-instance.ts';
import { issueCertifiedCredentialWith, testCa, type TestLeaf } from './support/pki-test-ca.ts';

/*
 * Review 127: a CA made again under the same id (its key compromised: `pki/default.*` moved aside, `ca init` run
 * again, same subject, new key) answered OCSP `good` for the certificates the old key had signed, since the `pki` read
 * model found a serial by CA id alone; `openssl verify` with the new CA refuses those certificates. Its responder now
 * answers `unknown` for them (RFC 6960 2.2) and its CRLs leave their revocations out; what the new key signed is
 * answered as before, and the old CA, served, still answers for its own.
 */
describe('a CA made again under the same id with a new key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-ca-new-key-'));
  const folder = dataFolderPki(dir);
  let credence: Credence | undefined;
  let served: PkiRevocation | undefined;
  let oldCa: Awaited<ReturnType<typeof testCa>>;
  let newCa: Awaited<ReturnType<typeof testCa>>;
  const leaves: Record<string, TestLeaf> = {};
  const replaced: [string, number][] = [];

  beforeAll(async () => {
    credence = folder.open();
    oldCa = await testCa('default');
    newCa = await testCa('default');
    leaves['old-good'] = await issueCertifiedCredentialWith(credence, oldCa, PKI_TEST_URL, 'cred-old-good');
    leaves['old-revoked'] = await issueCertifiedCredentialWith(credence, oldCa, PKI_TEST_URL, 'cred-old-revoked');
    leaves['new-good'] = await issueCertifiedCredentialWith(credence, newCa, PKI_TEST_URL, 'cred-new-good');
    leaves['new-revoked'] = await issueCertifiedCredentialWith(credence, newCa, PKI_TEST_URL, 'cred-new-revoked');
    await credence.engine.execute(cmd.revokeCredential('cred-old-revoked', 'keyCompromise'));
    await credence.engine.execute(cmd.revokeCredential('cred-new-revoked', 'keyCompromise'));
    await credence.settle();
    served = await folder.start(credence, newCa, { onCaKeyReplaced: (caId, n) => replaced.push([caId, n]) });
  }, 60_000);
  afterAll(() => closePkiInstance({ pki: served, credence, se: folder.se, dir }));

  const statusUnder = async (pki: PkiRevocation, ca: typeof newCa, leaf: TestLeaf) => ocspStatus((await pki.ocsp('default')!.respond(await ocspRequest(leaf, ca))).der);

  it("answers unknown for a certificate the old key signed, good or revoked, though the request names the new CA's name and key", async () => {
    expect(await statusUnder(served!, newCa, leaves['old-good']!)).toBe('unknown');
    expect(await statusUnder(served!, newCa, leaves['old-revoked']!)).toBe('unknown');
  });

  it('answers good and revoked for the certificates its own key signed', async () => {
    expect(await statusUnder(served!, newCa, leaves['new-good']!)).toBe('good');
    expect(await statusUnder(served!, newCa, leaves['new-revoked']!)).toBe('revoked');
  });

  it("lists on its CRL the revocations of its own key's certificates only", async () => {
    await served!.crl('default')!.settled();
    expect(serialsOf((await served!.crl('default')!.full()).der)).toEqual([leaves['new-revoked']!.serialNumber]);
  });

  it('is warned of at start, once, with the number of live certificates the old key signed', () => {
    expect(replaced).toEqual([['default', 1]]);
  });

  it('counts the live certificates of another key under its id (what the start warns of)', () => {
    const keyId = (ca: typeof newCa) => Buffer.from(revocationIssuer(ca.certificate).keyIdentifier).toString('hex');
    expect(certificatesOfAnotherKey(credence!.readModels, 'default', keyId(newCa), new Date().toISOString())).toBe(1);
    expect(certificatesOfAnotherKey(credence!.readModels, 'default', keyId(oldCa), new Date().toISOString())).toBe(1);
  });

  it('leaves the old CA, served again, answering for its own certificates', async () => {
    served!.stop();
    served = await folder.start(credence!, oldCa);
    expect(await statusUnder(served, oldCa, leaves['old-good']!)).toBe('good');
    expect(await statusUnder(served, oldCa, leaves['old-revoked']!)).toBe('revoked');
    expect(await statusUnder(served, oldCa, leaves['new-good']!)).toBe('unknown');
    await served.crl('default')!.settled();
    expect(serialsOf((await served.crl('default')!.full()).der)).toEqual([leaves['old-revoked']!.serialNumber]);
  }, 30_000);
});

describe('a pki read model written before the issuing key was recorded', () => {
  it('is emptied, its checkpoint dropped, and marked incomplete until the rebuild reaches where it was', () => {
    const db = new Database(':memory:');
    db.defaultSafeIntegers(true);
    setupCheckpoints(db);
    db.exec(`CREATE TABLE pki_certificates (credential_id TEXT PRIMARY KEY, ca_id TEXT NOT NULL, serial TEXT NOT NULL, not_after TEXT NOT NULL) WITHOUT ROWID;
      CREATE INDEX pki_certificates_by_serial ON pki_certificates (ca_id, serial);
      INSERT INTO pki_certificates VALUES ('cred-a', 'default', '7f01', '2027-01-01T00:00:00.000Z');`);
    writeCheckpoint(db, 'pki', { position: 42n, occurredAt: '2026-06-01T00:00:00.000Z' });

    setupPkiTables(db);

    expect(db.prepare('SELECT COUNT(*) AS n FROM pki_certificates').get()).toEqual({ n: 0n });
    expect(readCheckpoint(db, 'pki')).toBeUndefined();
    expect(pkiCompleteness(db)).toEqual({ complete: false, position: undefined, until: 42n });
    db.close();
  });
});
