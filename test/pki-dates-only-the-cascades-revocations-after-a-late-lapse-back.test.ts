import Database from 'better-sqlite3';
import { beforeEach, describe, expect, it } from 'vitest';
import type { DecodedEvent } from '../domain/stored.ts';
import { certificateStanding, pkiProjection } from '../projections/pki/index.ts';
import type { Projection } from '../projections/runtime/index.ts';
import { operator, system } from './support/fleet.ts';
import { storedEvents, type StoredMeta } from './support/stored-events.ts';

/*
 * Review 191, at the read model: a revocation is dated back to the subscription's notAfter only when the cascade
 * recorded it (its actor, revokeCredential) in reaction to a node's enrolment end recorded after that notAfter (its
 * causationId). An operator's revocation naming that event as its cause, or the cascade's after an enrolment that
 * ended in time, keeps its own time alone. Review 203: dated back as the invalidityDate (`invalidSince`), the
 * revocationDate (`revokedAt`) staying when it was recorded (RFC 5280 5.3.2).
 */
const DAY = 86_400_000;
const T0 = Date.parse('2026-06-01T00:00:00.000Z');
const iso = (ms: number): string => new Date(ms).toISOString();

const recorded = storedEvents();
/** A stored event as the runner hands it to the projection: only what the `pki` projection reads is real. */
const stored = (type: string, data: Record<string, unknown>, at: number, meta: StoredMeta = {}): DecodedEvent => recorded('x', type, data, at, meta);

const certified = (credentialId: string, serialNumber: string, at: number): DecodedEvent =>
  stored('CredentialIssued', { credentialId, certificate: { issuingCa: 'default', serialNumber, notBefore: iso(T0), notAfter: iso(T0 + 30 * DAY) } }, at);

const revokedBy = (actor: typeof operator, credentialId: string, at: number, causationId: string): DecodedEvent =>
  stored('CredentialRevoked', { credentialId, reason: 'cessationOfOperation' }, at, { actor, commandType: 'revokeCredential', causationId });

/** The revocationDate and invalidityDate the read model gives the certificate `serialNumber` (none: not revoked). */
const datesOf = (db: Database.Database, serialNumber: string): { revokedAt: string; invalidSince?: string } | undefined => {
  const standing = certificateStanding(db, 'default', serialNumber);
  if (standing.status !== 'revoked') return undefined;
  return { revokedAt: standing.revokedAt, ...(standing.invalidSince !== undefined ? { invalidSince: standing.invalidSince } : {}) };
};

describe('the pki read model after a subscription ending at +1 day whose nodes enrolments ended at +10 days', () => {
  let db: Database.Database;
  let pki: Projection;
  const apply = (e: DecodedEvent): void => {
    if (pki.apply === undefined) throw new Error('the pki projection applies events');
    pki.apply(db, e);
  };

  beforeEach(() => {
    db = new Database(':memory:');
    db.defaultSafeIntegers(true);
    pki = pkiProjection();
    pki.setup?.(db);
    // Given sub-2 ending at +1 day and sub-1 at +1 year, three certified credentials, and the late end of meter-2's
    // enrolment under sub-2 and the timely one of meter-3's under sub-1 (terminated), both at +10 days.
    for (const e of [
      stored('SubscriptionCreated', { subscriptionId: 'sub-2', subscriber: 'City Utilities', notBefore: iso(T0), notAfter: iso(T0 + DAY) }, T0),
      stored('SubscriptionCreated', { subscriptionId: 'sub-1', subscriber: 'City Utilities', notBefore: iso(T0), notAfter: iso(T0 + 365 * DAY) }, T0),
      certified('cred-lapsed', '7f01', T0),
      certified('cred-op', '7f02', T0),
      certified('cred-terminated', '7f03', T0),
      stored('NodeEnrolmentExpired', { nodeId: 'meter-2', subscriptionId: 'sub-2' }, T0 + 10 * DAY, { id: 'lapse-late', actor: system, commandType: 'expireNodeEnrolment' }),
      stored('NodeEnrolmentExpired', { nodeId: 'meter-3', subscriptionId: 'sub-1' }, T0 + 10 * DAY, { id: 'end-in-time', actor: system, commandType: 'expireNodeEnrolment' }),
    ]) {
      apply(e);
    }
  });

  it("dates the cascade's revocation caused by the late end when it was recorded, invalid since the subscription's notAfter", () => {
    apply(revokedBy(system, 'cred-lapsed', T0 + 10 * DAY, 'lapse-late'));
    expect(datesOf(db, '7f01')).toEqual({ revokedAt: iso(T0 + 10 * DAY), invalidSince: iso(T0 + DAY) });
  });

  it("dates an operator's revocation naming the late end as its cause when it was recorded, with no invalidity date", () => {
    apply(revokedBy(operator, 'cred-op', T0 + 10 * DAY, 'lapse-late'));
    expect(datesOf(db, '7f02')).toEqual({ revokedAt: iso(T0 + 10 * DAY) });
  });

  it("dates the cascade's revocation after an enrolment that ended before its subscription's notAfter when it was recorded, with no invalidity date", () => {
    apply(revokedBy(system, 'cred-terminated', T0 + 10 * DAY, 'end-in-time'));
    expect(datesOf(db, '7f03')).toEqual({ revokedAt: iso(T0 + 10 * DAY) });
  });
});
