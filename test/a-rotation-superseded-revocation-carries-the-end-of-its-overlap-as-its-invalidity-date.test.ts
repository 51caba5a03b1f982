import { describe, expect, it } from 'vitest';
import { setupPkiTables } from '../projections/pki/tables.ts';
import { crlInvalidityDate, ocspAnswer, ocspInvalidityDate } from './support/invalidity-dates.ts';
import { ocspRevokedAt } from './support/ocsp-client.ts';
import { hasOpenssl, OpenSslDir } from './support/openssl.ts';
import { expectEmptiedAndRebuildMarked, expectRebuildMarkedOnce, pkiReadModelOfAnEarlierVersion, revokedCertificateOfAnEarlierVersion } from './support/pki-read-model-of-an-earlier-version.ts';
import { crlListing, crlRevocationDate, useRotationHandedOverLate } from './support/revocation-dates.ts';

/*
 * Review 171 (HLR-212, RS-16): a rotation's predecessor is revoked as superseded at the end of its overlap, and the
 * service refuses it from then on (`credentialUsable`, judged at `handoverInstant`). Dated when the scheduler recorded
 * it, after a downtime (overlap ending at +2 h, first tick at +26 h) CRLs and OCSP said nothing of the 24 h the service
 * did not accept it. Review 203: that instant was then put in revocationDate, which RFC 5280 5.3.2 says is when the CA
 * processed the revocation; the earlier date the certificate became invalid is the invalidityDate entry extension, and
 * OCSP carries it as a singleExtension (RFC 6960 4.4). revocationDate and revocationTime are the recording.
 */

/** A time as `openssl crl -text` and `openssl ocsp -resp_text` print it (ASN1_TIME_print): `Dec  4 19:30:00 2026 GMT`. */
const opensslTime = (ms: number): string => {
  const d = new Date(ms);
  const month = d.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' });
  return `${month} ${String(d.getUTCDate()).padStart(2, ' ')} ${d.toISOString().slice(11, 19)} ${d.getUTCFullYear()} GMT`;
};

describe('a predecessor superseded at the end of its overlap, recorded by a scheduler that ticked a day late', () => {
  // Given cred-1 (certified by the CA) rotating onto cred-2, both provisioned, the overlap ending at +2 h; when the
  // service's scheduler first ticks at +26 h.
  const scene = useRotationHandedOverLate('credence-superseded-date-');
  const { overlapEndsAt, tickAt } = scene;

  it('is dated at its recording with overlapEndsAt as its invalidityDate on the complete CRL and on the delta CRL issued after it', async () => {
    const serial = scene.leaf.serialNumber;
    for (const path of ['crl', 'delta-crl'] as const) {
      const der = await crlListing(scene.svc, path, serial);
      expect(crlRevocationDate(der, serial)).toBe(tickAt);
      expect(crlInvalidityDate(der, serial)).toBe(overlapEndsAt);
    }
  });

  it('is answered revoked by OCSP with revocationTime its recording and the invalidityDate singleExtension overlapEndsAt', async () => {
    const answer = await ocspAnswer(scene.svc, scene.leaf);
    expect(ocspRevokedAt(answer)).toBe(tickAt);
    expect(ocspInvalidityDate(answer)).toBe(overlapEndsAt);
  });

  it.skipIf(!hasOpenssl())('reads so with openssl: Revocation Date / Time the recording, Invalidity Date the end of the overlap', async () => {
    const openssl = new OpenSslDir('credence-invalidity-date-');
    try {
      const serial = scene.leaf.serialNumber;
      openssl.write('crl.der', await crlListing(scene.svc, 'crl', serial));
      const crl = await openssl.ok(['crl', '-inform', 'DER', '-in', 'crl.der', '-noout', '-text']);
      const entry = crl.slice(crl.indexOf(`Serial Number: ${serial.toUpperCase()}`));
      expect(entry).toMatch(new RegExp(`^Serial Number: ${serial.toUpperCase()}\\s+Revocation Date: ${opensslTime(tickAt)}\\s+CRL entry extensions:\\s+X509v3 CRL Reason Code:\\s+Superseded\\s+Invalidity Date:\\s+${opensslTime(overlapEndsAt)}\\s`));
      openssl.write('ocsp.der', await ocspAnswer(scene.svc, scene.leaf));
      const ocsp = await openssl.ok(['ocsp', '-respin', 'ocsp.der', '-resp_text', '-noverify']);
      expect(ocsp).toMatch(new RegExp(`Cert Status: revoked\\s+Revocation Time: ${opensslTime(tickAt)}\\s+Revocation Reason: superseded \\(0x4\\)`));
      expect(ocsp).toMatch(new RegExp(`Response Single Extensions:\\s+Invalidity Date:\\s+${opensslTime(overlapEndsAt)}\\s`));
    } finally {
      openssl.remove();
    }
  });
});

describe('a pki read model written before the rotations under way were kept', () => {
  it('is emptied and rebuilt from the log, incomplete until it reaches where it was: its handovers are dated again', () => {
    // The previous version's tables (issuer_key_id, no pki_rotations), with a revoked certificate, projected to 42.
    const db = pkiReadModelOfAnEarlierVersion(revokedCertificateOfAnEarlierVersion('superseded'));

    setupPkiTables(db);

    expectEmptiedAndRebuildMarked(db);
  });
});

describe('a pki read model written before the invalidity dates were kept (review 203)', () => {
  it('is emptied and rebuilt from the log, incomplete until it reaches where it was: its back-dated revocations are dated at their recording', () => {
    // The previous version's tables (pki_rotations, pki_subscriptions, pki_lapses; no invalid_since), a handover
    // back-dated in revoked_at, projected to 42.
    const db = pkiReadModelOfAnEarlierVersion(revokedCertificateOfAnEarlierVersion('superseded', `CREATE TABLE pki_rotations (credential_id TEXT PRIMARY KEY, overlap_ends_at INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE pki_subscriptions (subscription_id TEXT PRIMARY KEY, not_after INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE pki_lapses (event_id TEXT PRIMARY KEY, lapsed_at INTEGER NOT NULL) WITHOUT ROWID;`));

    setupPkiTables(db);

    expect(db.prepare("SELECT name FROM pragma_table_info('pki_revocations') WHERE name = 'invalid_since'").get()).toEqual({ name: 'invalid_since' });
    expect(db.prepare('SELECT COUNT(*) AS n FROM pki_certificates').get()).toEqual({ n: 0n });
    expect(db.prepare('SELECT COUNT(*) AS n FROM pki_revocations').get()).toEqual({ n: 0n });
    expectRebuildMarkedOnce(db);
  });
});
