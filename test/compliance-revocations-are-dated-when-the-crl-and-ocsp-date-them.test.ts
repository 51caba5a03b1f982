import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { DecodedEvent } from '../domain/stored.ts';
import { auditTrail } from '../projections/audit/index.ts';
import { complianceProjection, revocations } from '../projections/compliance/index.ts';
import { certificateStanding, pkiProjection } from '../projections/pki/index.ts';
import type { Projection } from '../projections/runtime/index.ts';
import { operator, system } from './support/fleet.ts';
import { storedEvents } from './support/stored-events.ts';

/*
 * Review 197: the compliance `revocations` query and the CRL/OCSP gave different times for one revocation. The `pki`
 * read model dates a rotation's handover at the end of its overlap (review 171) and the cascade's revocation after a
 * late-recorded lapse at the subscription's notAfter (review 191); the compliance read model kept when the event was
 * recorded, so a window over the day the CRL names missed it. Since review 203 the CRL and OCSP carry that instant as
 * the invalidityDate (`invalidSince`), their revocationDate / revocationTime (`revokedAt`) being the recording (RFC
 * 5280 5.3.2); compliance's `occurredAt` is the invalidityDate where there is one, the revocationDate otherwise. Both
 * read models are fed the same events here, as the runner feeds them: live (one event at a time) and in one batch (a
 * rebuild from position 0).
 */
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.parse('2026-12-04T18:45:39.000Z');
const iso = (ms: number): string => new Date(ms).toISOString();

/** The story's events, positions from 1, as the store hands them to the projections. */
const story = () => {
  const events: DecodedEvent[] = [];
  const stored = storedEvents();
  const add = (...event: Parameters<typeof stored>): void => {
    events.push(stored(...event));
  };
  const issued = (credentialId: string, nodeId: string, serialNumber?: string): void => {
    const certificate = serialNumber === undefined ? {} : { certificate: { issuingCa: 'default', serialNumber, notBefore: iso(T0), notAfter: iso(T0 + 30 * DAY) } };
    add(`credential-${credentialId}`, 'CredentialIssued', { credentialId, owner: { kind: 'node', id: nodeId }, notAfter: iso(T0 + 30 * DAY), ...certificate }, T0);
  };
  return { events, add, issued };
};

const overlapEndsAt = T0 + 2 * HOUR;
const tickAt = T0 + 26 * HOUR;
const subscriptionEndsAt = T0 + DAY;
const restartAt = T0 + 10 * DAY;

/**
 * cred-1 (certificate 7f01) rotating onto cred-2, the overlap ending at +2 h, the scheduler's first tick at +26 h;
 * meter-2 under sub-2 (ending at +1 day) holding cred-lapsed (7f02) and cred-plain (no certificate of ours) and
 * association a-lapsed, its enrolment's end recorded at a restart at +10 days and the cascade's revocations then;
 * an operator's revocation of cred-op (7f03) at the restart naming that end as its cause.
 */
const events = (): DecodedEvent[] => {
  const { events, add, issued } = story();
  add('subscription-sub-2', 'SubscriptionCreated', { subscriptionId: 'sub-2', subscriber: 'City Utilities', notBefore: iso(T0 - DAY), notAfter: iso(subscriptionEndsAt) }, T0);
  add('node-meter-2', 'NodeEnrolled', { nodeId: 'meter-2', subscriptionId: 'sub-2', cseId: '/cse-meter-2' }, T0);
  issued('cred-1', 'meter-1', '7f01');
  issued('cred-2', 'meter-1');
  issued('cred-lapsed', 'meter-2', '7f02');
  issued('cred-plain', 'meter-2');
  issued('cred-op', 'meter-3', '7f03');
  add('association-a-lapsed', 'AssociationConfigured', { associationId: 'a-lapsed', credentialId: 'cred-plain', nodeId: 'meter-2', registree: { kind: 'cse', id: '/cse-meter-2' } }, T0);
  add('credential-cred-1', 'CredentialRotationStarted', { credentialId: 'cred-1', successorId: 'cred-2', overlapEndsAt: iso(overlapEndsAt) }, T0);
  add('credential-cred-1', 'CredentialRevoked', { credentialId: 'cred-1', reason: 'superseded' }, tickAt, { actor: system, commandType: 'completeCredentialRotation' });
  add('node-meter-2', 'NodeEnrolmentExpired', { nodeId: 'meter-2', subscriptionId: 'sub-2' }, restartAt, { id: 'lapse-late', actor: system, commandType: 'expireNodeEnrolment' });
  for (const credentialId of ['cred-lapsed', 'cred-plain']) {
    add(`credential-${credentialId}`, 'CredentialRevoked', { credentialId, reason: 'cessationOfOperation' }, restartAt, { actor: system, commandType: 'revokeCredential', causationId: 'lapse-late' });
  }
  add('association-a-lapsed', 'AssociationRevoked', { associationId: 'a-lapsed', reason: 'cessationOfOperation' }, restartAt, { actor: system, commandType: 'revokeAssociation', causationId: 'lapse-late' });
  add('credential-cred-op', 'CredentialRevoked', { credentialId: 'cred-op', reason: 'cessationOfOperation' }, restartAt, { actor: operator, commandType: 'revokeCredential', causationId: 'lapse-late' });
  return events;
};

const opened = (): Database.Database => {
  const db = new Database(':memory:');
  db.defaultSafeIntegers(true);
  // The audit trail beside, as the runtime keeps it: `revocations` reads each row's signature from it (review 327).
  auditTrail().setup(db);
  complianceProjection().setup(db);
  pkiProjection().setup?.(db);
  return db;
};

/** Whether the runner hands `e` to `projection`. */
const takes = (projection: Projection, e: DecodedEvent): boolean => (projection.eventTypes ?? []).includes(e.event.type);

/** Both read models built from `events` live: each event applied on its own, in its own transaction. */
const builtLive = (list: readonly DecodedEvent[]): Database.Database => {
  const db = opened();
  const [compliance, pki] = [complianceProjection(), pkiProjection()];
  for (const e of list) {
    db.transaction(() => {
      if (takes(compliance, e)) compliance.apply!(db, e);
      if (takes(pki, e)) pki.apply!(db, e);
    })();
  }
  return db;
};

/** The compliance read model rebuilt from position 0 in one batch, as the runner's catch-up does. */
const builtInOneBatch = (list: readonly DecodedEvent[]): Database.Database => {
  const db = opened();
  const compliance = complianceProjection();
  db.transaction(() => {
    const batch = compliance.beginBatch!(db);
    for (const e of list) if (takes(compliance, e)) compliance.apply!(db, e);
    batch.flush();
  })();
  return db;
};

/** The revocationDate and invalidityDate the `pki` read model gives `serialNumber` (none: not revoked). */
const pkiDates = (db: Database.Database, serialNumber: string): { revokedAt: string; invalidSince?: string } | undefined => {
  const standing = certificateStanding(db, 'default', serialNumber);
  if (standing.status !== 'revoked') return undefined;
  return { revokedAt: standing.revokedAt, ...(standing.invalidSince !== undefined ? { invalidSince: standing.invalidSince } : {}) };
};

/** When the CRL and OCSP say the certificate became invalid: its invalidityDate, or its revocationDate without one. */
const invalidOnTheCrlSince = (db: Database.Database, serialNumber: string): string | undefined => {
  const dates = pkiDates(db, serialNumber);
  return dates?.invalidSince ?? dates?.revokedAt;
};

/** The ids the compliance query lists in [from, to). */
const idsIn = (db: Database.Database, from: number, to: number): string[] => revocations(db, { from: new Date(from), to: new Date(to) }).map((r) => r.id);

const occurredAtOf = (db: Database.Database, id: string): string | undefined => revocations(db).find((r) => r.id === id)?.occurredAt;

describe('a compliance window over when the CRL and OCSP say a certificate was revoked', () => {
  const db = builtLive(events());

  it("lists a rotation's handover recorded a day late in the hour its overlap ended, at the PKI's instant", () => {
    expect(pkiDates(db, '7f01')).toEqual({ revokedAt: iso(tickAt), invalidSince: iso(overlapEndsAt) });
    expect(idsIn(db, overlapEndsAt, overlapEndsAt + HOUR)).toEqual(['cred-1']);
    expect(occurredAtOf(db, 'cred-1')).toBe(invalidOnTheCrlSince(db, '7f01'));
    expect(idsIn(db, tickAt, tickAt + HOUR)).toEqual([]);
  });

  it("lists the cascade's revocation after a late-recorded lapse at the subscription's notAfter, with or without a certificate of ours", () => {
    expect(pkiDates(db, '7f02')).toEqual({ revokedAt: iso(restartAt), invalidSince: iso(subscriptionEndsAt) });
    expect(idsIn(db, subscriptionEndsAt, subscriptionEndsAt + HOUR)).toEqual(['cred-lapsed', 'cred-plain']);
    expect(occurredAtOf(db, 'cred-lapsed')).toBe(invalidOnTheCrlSince(db, '7f02'));
  });

  it("lists an operator's revocation naming the lapse as its cause, and the association's, when they were recorded", () => {
    expect(pkiDates(db, '7f03')).toEqual({ revokedAt: iso(restartAt) });
    expect(occurredAtOf(db, 'cred-op')).toBe(invalidOnTheCrlSince(db, '7f03'));
    expect(idsIn(db, restartAt, restartAt + HOUR)).toEqual(['a-lapsed', 'cred-op']);
  });

  it('keeps when each revocation dated back was recorded', () => {
    const recorded = db.prepare('SELECT entity_id, recorded_at FROM compliance_revocations WHERE recorded_at IS NOT NULL ORDER BY position').all();
    expect(recorded).toEqual([
      { entity_id: 'cred-1', recorded_at: iso(tickAt) },
      { entity_id: 'cred-lapsed', recorded_at: iso(restartAt) },
      { entity_id: 'cred-plain', recorded_at: iso(restartAt) },
    ]);
  });
});

describe('the compliance read model rebuilt from position 0', () => {
  it('holds the same rows as built live, the newest first too', () => {
    const list = events();
    const [live, rebuilt] = [builtLive(list), builtInOneBatch(list)];
    const rows = (db: Database.Database) => ({
      log: revocations(db),
      newest: revocations(db, {}, {}, 'newest'),
      tables: ['compliance_revocations', 'compliance_rotations', 'compliance_lapses'].map((t) => db.prepare(`SELECT * FROM ${t} ORDER BY 1`).all()),
    });
    expect(rows(rebuilt)).toEqual(rows(live));
    expect(rows(live).newest.map((r) => r.id)).toEqual(['cred-op', 'a-lapsed', 'cred-plain', 'cred-lapsed', 'cred-1']);
  });
});
