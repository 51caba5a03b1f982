import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { complianceProjection } from '../projections/compliance/index.ts';
import { readCheckpoint } from '../projections/runtime/index.ts';
import { setupCheckpoints, writeCheckpoint } from '../projections/runtime/checkpoints.ts';

/*
 * Review 197 changed what a revocation row says (`at` and `occurred_at`: when it occurred, as CRLs and OCSP date it;
 * `recorded_at`) and added the state that dates it (compliance_rotations, compliance_lapses). A read model version 9
 * built dated a late handover or a late lapse's revocations at their recording, and has no rotation under way to
 * date the next handover by: it is dropped and built again from the log, once.
 */
const VERSION_9 = `CREATE TABLE compliance_revocations (position INTEGER PRIMARY KEY, stream_id TEXT NOT NULL, kind TEXT NOT NULL,
    entity_id TEXT NOT NULL, reason TEXT NOT NULL, at INTEGER NOT NULL, occurred_at TEXT NOT NULL, actor_id TEXT NOT NULL);
  CREATE TABLE compliance_subscriptions (subscription_id TEXT PRIMARY KEY, not_after_ms INTEGER, ended_position INTEGER) WITHOUT ROWID;
  CREATE TABLE projection_schemas (name TEXT PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID;
  INSERT INTO projection_schemas VALUES ('compliance', 9);
  INSERT INTO compliance_revocations VALUES (10, 'credential-cred-1', 'credential', 'cred-1', 'superseded', 1796496339000, '2026-12-06T20:45:39.000Z', 'system:scheduler');
  INSERT INTO compliance_subscriptions VALUES ('sub-2', 1796582739000, NULL);`;

describe('a compliance read model version 9 built', () => {
  it('is emptied when opened, its checkpoint dropped so it is rebuilt from position 0, and left alone when opened again', () => {
    const db = new Database(':memory:');
    db.defaultSafeIntegers(true);
    setupCheckpoints(db);
    db.exec(VERSION_9);
    writeCheckpoint(db, 'compliance', { position: 42n, occurredAt: '2026-12-06T20:45:39.000Z' });

    complianceProjection().setup(db);

    expect(db.prepare("SELECT version FROM projection_schemas WHERE name = 'compliance'").pluck().get()).toBe(12n);
    expect(readCheckpoint(db, 'compliance')).toBeUndefined();
    for (const table of ['compliance_revocations', 'compliance_subscriptions', 'compliance_rotations', 'compliance_lapses']) {
      expect(db.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get(), table).toBe(0n);
    }
    const columns = (db.prepare("SELECT name FROM pragma_table_info('compliance_revocations')").pluck().all() as string[]).sort();
    expect(columns).toContain('recorded_at');

    db.exec("INSERT INTO compliance_rotations VALUES ('cred-2', 1796496339000, 43)");
    complianceProjection().setup(db);
    expect(db.prepare('SELECT COUNT(*) FROM compliance_rotations').pluck().get()).toBe(1n);
    db.close();
  });
});
