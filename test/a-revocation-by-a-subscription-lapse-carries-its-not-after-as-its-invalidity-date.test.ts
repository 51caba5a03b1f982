import { beforeAll, describe, expect, it } from 'vitest';
import { command } from '../domain/commands/index.ts';
import { setupPkiTables } from '../projections/pki/tables.ts';
import { operator } from './support/fleet.ts';
import { crlInvalidityDate, ocspAnswer, ocspInvalidityDate } from './support/invalidity-dates.ts';
import { ocspRevokedAt } from './support/ocsp-client.ts';
import { expectEmptiedAndRebuildMarked, pkiReadModelOfAnEarlierVersion, revokedCertificateOfAnEarlierVersion } from './support/pki-read-model-of-an-earlier-version.ts';
import type { TestLeaf } from './support/pki-test-ca.ts';
import { crlListing, crlRevocationDate, useRestartedAfterALapse } from './support/revocation-dates.ts';
import type { TestService } from './support/service.ts';

/*
 * Review 191: a subscription that lapses while the service is down has its nodes' enrolments expired by the cascade at
 * the restart, and their credentials revoked as cessationOfOperation then; the Registrar and the Enrolment Function
 * refused those nodes from the subscription's notAfter already (run-admission.ts `servedAt`). The `pki` read model
 * dated the revocations at the restart, with nothing of the days the service refused them. Review 203: as for a
 * rotation's handover (review 171), revocationDate and revocationTime are when the revocation was recorded (RFC 5280
 * 5.3.2: when the CA processed it), and the subscription's notAfter, from which the certificate was refused, is the
 * invalidityDate, on the CRL entry and as an OCSP singleExtension (RFC 6960 4.4).
 */
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('a subscription that lapsed while the service was down, its nodes credentials revoked at the restart 10 days later', () => {
  let lapsed: TestLeaf;
  let revokedByOperator: TestLeaf;
  const scene = useRestartedAfterALapse('credence-lapse-date-', async (credence, certify, { start, subscriptionEndsAt }) => {
    // Given meter-1 under sub-1 (a year) holding cred-op, and meter-2 under sub-2 (ending at +1 day) holding
    // cred-lapsed, both certified by the CA for 30 days.
    for (const [subscriptionId, notAfter] of [['sub-1', start + 365 * DAY], ['sub-2', subscriptionEndsAt]] as const) {
      const validity = { notBefore: new Date(start - DAY).toISOString(), notAfter: new Date(notAfter).toISOString() };
      await credence.engine.execute(command('createSubscription', { subscriptionId, subscriber: 'City Utilities', ...validity }, { actor: operator }));
    }
    revokedByOperator = await certify('cred-op', 'meter-1', 'sub-1');
    lapsed = await certify('cred-lapsed', 'meter-2', 'sub-2');
  });
  const { subscriptionEndsAt, restartAt } = scene;
  let svc: TestService;

  beforeAll(async () => {
    // When the service is down from now until +10 days, sub-2 lapsing meanwhile (above); and an operator revokes
    // cred-op, whose subscription stands, at the restart.
    svc = scene.svc;
    const { credence } = svc.service.context;
    await credence.engine.execute(command('revokeCredential', { credentialId: 'cred-op', reason: 'cessationOfOperation' }, { actor: operator }));
  });

  it("dates the lapsed node's certificate at the restart with the subscription's notAfter as its invalidityDate, on the complete and the delta CRL", async () => {
    for (const path of ['crl', 'delta-crl'] as const) {
      const der = await crlListing(svc, path, lapsed.serialNumber);
      expect(crlRevocationDate(der, lapsed.serialNumber)).toBe(restartAt);
      expect(crlInvalidityDate(der, lapsed.serialNumber)).toBe(subscriptionEndsAt);
    }
  });

  it("answers it revoked by OCSP with revocationTime the restart and the invalidityDate singleExtension the subscription's notAfter", async () => {
    const answer = await ocspAnswer(svc, lapsed);
    expect(ocspRevokedAt(answer)).toBe(restartAt);
    expect(ocspInvalidityDate(answer)).toBe(subscriptionEndsAt);
  });

  it("dates the operator's revocation, caused by no expiry, when it was recorded, with no invalidityDate", async () => {
    const der = await crlListing(svc, 'crl', revokedByOperator.serialNumber);
    expect(crlRevocationDate(der, revokedByOperator.serialNumber)).toBe(restartAt);
    expect(crlInvalidityDate(der, revokedByOperator.serialNumber)).toBeUndefined();
    const answer = await ocspAnswer(svc, revokedByOperator);
    expect(ocspRevokedAt(answer)).toBe(restartAt);
    expect(ocspInvalidityDate(answer)).toBeUndefined();
  });
});

describe('a pki read model written before the enrolments lapsed late were kept', () => {
  it('is emptied and rebuilt from the log, incomplete until it reaches where it was: its lapses are dated again', () => {
    // The previous version's tables (pki_rotations, no pki_subscriptions), with a revoked certificate, projected to 42.
    const db = pkiReadModelOfAnEarlierVersion(revokedCertificateOfAnEarlierVersion('cessationOfOperation', `CREATE TABLE pki_rotations (credential_id TEXT PRIMARY KEY, overlap_ends_at INTEGER NOT NULL) WITHOUT ROWID;`));

    setupPkiTables(db);

    expectEmptiedAndRebuildMarked(db);
  });
});
