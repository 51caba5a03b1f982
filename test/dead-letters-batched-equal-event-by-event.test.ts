import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { HOUR } from '../adapters/driven/clock/index.ts';
import type { Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { auditTrail } from '../projections/audit/index.ts';
import { cascadeProcessManager, deadLetters } from '../projections/cascade/index.ts';
import { complianceProjection } from '../projections/compliance/index.ts';
import { entitiesProjection } from '../projections/entities/index.ts';
import { expiryScheduler } from '../projections/expiry/index.ts';
import { ProjectionRunner } from '../projections/runtime/index.ts';
import { twoEstablishedMeters } from './support/two-meters.ts';
import { footprint, operator } from './support/fleet.ts';
import { tamper } from './support/tampered-log.ts';

const TABLES = [
  'cascade_dead_letters',
  'cascade_dependents',
  'cascade_endings',
  'cascade_associations',
  'audit_events',
  'entities',
  'compliance_revocations',
  'compliance_credentials',
  'compliance_associations',
  'expiry_deadlines',
];

const dump = (db: Database.Database): Record<string, unknown[]> =>
  Object.fromEntries(TABLES.map((t) => [t, db.prepare(`SELECT * FROM ${t} ORDER BY 1, 2`).all()]));

/**
 * Two meters; cred-1's history is broken (provisioned twice), then meter-1 is revoked, so the cascade cannot revoke
 * cred-1 (a dead letter), and a revocation of cred-1 is stored after that (the target ends later in the log, so a
 * batch holding both events knows it ends: the shortcut that must not hide the broken history).
 */
const brokenHistory = async (): Promise<Credence> => {
  const { c, clock } = await twoEstablishedMeters();
  await tamper(c, 'credential-cred-1', 'CredentialProvisioned', { credentialId: 'cred-1', method: 'pre-provisioning' });
  clock.advance(HOUR);
  await c.engine.execute(command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }));
  await c.settle();
  await tamper(c, 'credential-cred-1', 'CredentialRevoked', { credentialId: 'cred-1', reason: 'superseded' });
  await c.engine.execute(command('revokeNode', { nodeId: 'meter-2', reason: 'affiliationChanged' }, { actor: operator }));
  await c.settle();
  return c;
};

const catchUp = async (c: Credence, batchSize: number): Promise<Database.Database> => {
  const db = new Database(':memory:');
  db.defaultSafeIntegers(true);
  const projections = [cascadeProcessManager(c.engine), expiryScheduler(c.engine), auditTrail(), complianceProjection(), entitiesProjection()];
  await new ProjectionRunner({ db, store: c.store, projections, batchSize }).catchUp();
  return db;
};

describe('dead letters of a broken history', () => {
  it('are the same whether the events are handled one at a time, in one batch, or live', async () => {
    const c = await brokenHistory();
    const before = await footprint(c.store);
    const single = await catchUp(c, 1);
    const batched = await catchUp(c, 10_000);
    // Nothing was decided again: every reaction was found done, ended or dead.
    expect(await footprint(c.store)).toEqual(before);

    const letters = deadLetters(batched).map((d) => [d.eventType, d.command, d.target]);
    // The revocation of cred-1 and the release of its association (the association's revocation asks cred-1 to let it go).
    expect(letters).toEqual([
      ['NodeRevoked', 'revokeCredential', 'cred-1'],
      ['AssociationRevoked', 'releaseCredentialAssociation', 'cred-1'],
    ]);
    expect(deadLetters(batched)[0]!.reason).toContain('credential-cred-1');
    expect(deadLetters(batched)).toEqual(deadLetters(single));
    expect(deadLetters(c.readModels)).toEqual(deadLetters(single));
    expect(dump(batched)).toEqual(dump(single));
    // meter-2's cascade went through as usual.
    expect((await c.engine.entity('credential', 'cred-2')).snapshot.value).toBe('revoked');
    await c.close();
  });
});
