import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { DecodedEvent } from '../domain/stored.ts';
import { auditTrail } from '../projections/audit/index.ts';
import { answerQuery, COMPLIANCE_QUERIES, complianceProjection } from '../projections/compliance/index.ts';
import { system } from './support/fleet.ts';
import { storedEvents } from './support/stored-events.ts';

/*
 * Review 305 (medium): `revocations` windows by when a revocation took effect (`occurredAt`, dated back to a
 * rotation's overlap end or a late lapse's notAfter, review 197), so a past window gained a row recorded late, after
 * an export of it had answered whole. `by=recorded` windows by when each revocation was recorded: a window whose `to`
 * the read model has passed gains no row.
 */
const DAY = 86_400_000;
const T0 = Date.parse('2026-12-01T00:00:00.000Z');
const iso = (ms: number): string => new Date(ms).toISOString();
const day = (n: number): string => iso(T0 + n * DAY);

const stored = storedEvents();
const before: DecodedEvent[] = [
  stored('credential-cred-1', 'CredentialIssued', { credentialId: 'cred-1', owner: { kind: 'node', id: 'meter-1' }, notAfter: day(30) }, T0),
  stored('credential-cred-2', 'CredentialIssued', { credentialId: 'cred-2', owner: { kind: 'node', id: 'meter-1' }, notAfter: day(30) }, T0),
  stored('credential-cred-1', 'CredentialRotationStarted', { credentialId: 'cred-1', successorId: 'cred-2', overlapEndsAt: day(5) }, T0 + DAY),
];
// The scheduler's handover, recorded at day 8 (the service was down), dated back to the overlap's end at day 5.
const handover = stored('credential-cred-1', 'CredentialRevoked', { credentialId: 'cred-1', reason: 'superseded' }, T0 + 8 * DAY, {
  actor: system,
  commandType: 'completeCredentialRotation',
});

const ids = (db: Database.Database, params: Record<string, string>): { ids: string[]; truncated: boolean } => {
  const parsed = COMPLIANCE_QUERIES.revocations.params.parse(params);
  const answer = answerQuery('revocations', db, parsed, new Date(T0 + 8 * DAY));
  return { ids: answer.rows.map((r) => (r as unknown as { id: string }).id), truncated: answer.truncated };
};

describe('revocations by when they were recorded', () => {
  const db = new Database(':memory:');
  db.defaultSafeIntegers(true);
  const projection = complianceProjection();
  // The audit trail beside, as the runtime keeps it: `revocations` reads each row's signature from it (review 327).
  auditTrail().setup(db);
  projection.setup(db);
  const apply = (e: DecodedEvent) => db.transaction(() => projection.apply!(db, e))();
  for (const e of before) apply(e);

  it('a window by occurrence read before the late handover gains it after (as documented); by recording it does not', () => {
    const window = { from: day(4), to: day(6) };
    expect(ids(db, window)).toEqual({ ids: [], truncated: false });
    expect(ids(db, { ...window, by: 'recorded' })).toEqual({ ids: [], truncated: false });
    apply(handover);
    // By occurrence (the default and `by=occurred`), the window already read gains the handover, at the overlap's end.
    expect(ids(db, window).ids).toEqual(['cred-1']);
    expect(ids(db, { ...window, by: 'occurred' }).ids).toEqual(['cred-1']);
    // By recording, it does not: the row is in the window of day 8, when it was recorded.
    expect(ids(db, { ...window, by: 'recorded' }).ids).toEqual([]);
    expect(ids(db, { from: day(8), to: day(9), by: 'recorded' }).ids).toEqual(['cred-1']);
    expect(ids(db, { from: day(8), to: day(9), by: 'recorded', order: 'newest' }).ids).toEqual(['cred-1']);
    expect(ids(db, { from: day(8), to: day(9) }).ids).toEqual([]);
  });

  it('takes only occurred or recorded', () => {
    expect(COMPLIANCE_QUERIES.revocations.params.safeParse({ by: 'effective' }).success).toBe(false);
  });
});
