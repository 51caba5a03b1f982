import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as pkijs from 'pkijs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Credence, PkiRevocation } from '../adapters/runtime/index.ts';
import { certificateStanding, PKI_PROJECTION, revocationContent } from '../projections/pki/index.ts';
import { closePkiInstance, crlNumberOf, dataFolderPki, PKI_TEST_URL, revokeAndSettleOn } from './support/pki-instance.ts';
import { issueCertifiedCredentialWith, testCa, type TestLeaf } from './support/pki-test-ca.ts';

/** A CRL's entries as content: serial, revocation date, reason extension bytes (not its number or times). */
const entriesOf = (der: Uint8Array) =>
  (pkijs.CertificateRevocationList.fromBER(der).revokedCertificates ?? [])
    .map((r) => ({
      serial: Buffer.from(r.userCertificate.valueBlock.valueHexView).toString('hex'),
      date: r.revocationDate.value.toISOString(),
      extensions: Buffer.from(r.crlEntryExtensions?.toSchema().toBER() ?? new ArrayBuffer(0)).toString('hex'),
    }))
    .sort((a, b) => a.serial.localeCompare(b.serial));

describe('CRL and OCSP state rebuilt from position 0 (issue 13: the events are the source of truth)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-pki-rebuild-'));
  const folder = dataFolderPki(dir);
  const se = folder.se;
  let credence: Credence;
  let pki: PkiRevocation;
  const leaves: TestLeaf[] = [];

  beforeAll(async () => {
    credence = folder.open();
    const ca = await testCa('default', 'ed25519');
    pki = await folder.start(credence, ca);
    for (const id of ['cred-a', 'cred-b', 'cred-c', 'cred-d']) leaves.push(await issueCertifiedCredentialWith(credence, ca, PKI_TEST_URL, id));
    await revokeAndSettleOn(credence, pki, [['cred-a', 'keyCompromise'], ['cred-b', 'unspecified'], ['cred-c', 'superseded']]);
  }, 60_000);
  afterAll(() => closePkiInstance({ pki, credence, se, dir }));

  it('gives the same revocations, CRL entries and OCSP statuses, under new CRL numbers', async () => {
    const db = credence.readModels;
    const publisher = pki.crl('default')!;
    const rowsBefore = revocationContent(db, 'default');
    const crlBefore = (await publisher.full()).der;
    const statusesBefore = leaves.map((l) => certificateStanding(db, 'default', l.serialNumber));
    expect(rowsBefore.map((r) => r.reason).sort()).toEqual(['keyCompromise', 'superseded', 'unspecified']);
    expect(statusesBefore.map((s) => s.status)).toEqual(['revoked', 'revoked', 'revoked', 'good']);

    await credence.runner.rebuild(PKI_PROJECTION);

    expect(revocationContent(db, 'default')).toEqual(rowsBefore);
    expect(leaves.map((l) => certificateStanding(db, 'default', l.serialNumber))).toEqual(statusesBefore);
    const crlAfter = (await publisher.full()).der;
    expect(entriesOf(crlAfter)).toEqual(entriesOf(crlBefore));
    expect(entriesOf(crlAfter)).toHaveLength(3);
    expect(crlNumberOf(crlAfter)).toBeGreaterThan(crlNumberOf(crlBefore));
  });
});
