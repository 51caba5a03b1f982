import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { DecodedEvent } from '../domain/stored.ts';
import { complianceProjection, danglingAssociations } from '../projections/compliance/index.ts';
import { operator } from './support/fleet.ts';
import { storedEvents } from './support/stored-events.ts';

/*
 * Review 305 (low): a dangling row is ordered and paged by the event that ended its parent. A credential's revocation
 * reason raised to keyCompromise moved its rows to the raise's position, so a pager mid-way read sa-1 again and then
 * sa-2. The credential ended at its first revocation: a raise moves nothing.
 */
const T0 = Date.parse('2026-12-01T00:00:00.000Z');
const iso = (ms: number): string => new Date(ms).toISOString();

describe('dangling-associations paged across a raise of the revocation reason', () => {
  const stored = storedEvents();
  const db = new Database(':memory:');
  db.defaultSafeIntegers(true);
  const projection = complianceProjection();
  projection.setup(db);
  const apply = (e: DecodedEvent) => db.transaction(() => projection.apply!(db, e))();
  const events = [
    stored('credential-cred-1', 'CredentialIssued', { credentialId: 'cred-1', owner: { kind: 'node', id: 'meter-1' }, notAfter: iso(T0 + 1e10) }, T0),
    ...['sa-1', 'sa-2'].map((associationId) =>
      stored(`association-${associationId}`, 'AssociationConfigured', { associationId, credentialId: 'cred-1', nodeId: 'meter-1', registree: { kind: 'cse', id: '/cse-1' } }, T0),
    ),
  ];
  const revoked = stored('credential-cred-1', 'CredentialRevoked', { credentialId: 'cred-1', reason: 'superseded' }, T0 + 1000, { actor: operator, commandType: 'revokeCredential' });
  const raised = stored('credential-cred-1', 'CredentialRevoked', { credentialId: 'cred-1', reason: 'keyCompromise' }, T0 + 2000, { actor: operator, commandType: 'revokeCredential' });

  it('pages each row once, at the first revocation', () => {
    for (const e of [...events, revoked]) apply(e);
    const first = danglingAssociations(db, { limit: 1 });
    expect(first.map((r) => [r.associationId, r.position])).toEqual([['sa-1', revoked.record.position]]);
    apply(raised);
    const second = danglingAssociations(db, { limit: 1 }, { position: first[0]!.position, associationId: first[0]!.associationId });
    expect(second.map((r) => [r.associationId, r.position])).toEqual([['sa-2', revoked.record.position]]);
    expect(danglingAssociations(db, { limit: 1 }, { position: second[0]!.position, associationId: 'sa-2' })).toEqual([]);
    expect(danglingAssociations(db).map((r) => [r.associationId, r.position, r.credentialStatus, r.parent.endedBy])).toEqual([
      ['sa-1', revoked.record.position, 'revoked', 'CredentialRevoked'],
      ['sa-2', revoked.record.position, 'revoked', 'CredentialRevoked'],
    ]);
  });
});
