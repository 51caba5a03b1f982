/**
 * Review 188 records the API token a command came with (`metadata.token`), and the audit trail shows it. A trail
 * built before has no column for it; no event recorded before names a token, so its rows are right as they are: the
 * columns are added in place, and the trail is neither dropped nor rebuilt (nor judged again under today's policy).
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { timeline } from '../projections/audit/index.ts';
import { setupAuditTables } from '../projections/audit/tables.ts';
import { readCheckpoint, writeCheckpoint } from '../projections/runtime/checkpoints.ts';

const ROW = `INSERT INTO audit_events (position, event_id, stream_id, revision, type, occurred_at, at, actor_id, actor_role, command_id,
  command_type, reason, signature_status, event_key, cause_key)
  VALUES (1, 'e-1', 'node-n1', 0, 'NodeRegistered', '2026-01-01T00:00:00.000Z', 0, 'op', 'operator', 'c-1', 'registerNode', NULL, 'unsigned', 1, 2)`;

describe('an audit trail of version 4 without the token columns', () => {
  it('gains them in place: its rows and checkpoint kept, an old row shows no token', () => {
    const db = new Database(':memory:');
    db.defaultSafeIntegers(true);
    setupAuditTables(db);
    // Given: the table as a build before review 188 left it.
    db.exec('ALTER TABLE audit_events DROP COLUMN token_id; ALTER TABLE audit_events DROP COLUMN token_issued_by');
    db.exec(ROW);
    writeCheckpoint(db, 'audit', { position: 1n, occurredAt: '2026-01-01T00:00:00.000Z' });

    // When: this build sets it up.
    setupAuditTables(db);

    // Then: the columns are there, and nothing was dropped.
    const columns = (db.prepare("SELECT name FROM pragma_table_info('audit_events')").all() as { name: string }[]).map((c) => c.name);
    expect(columns).toEqual(expect.arrayContaining(['token_id', 'token_issued_by']));
    expect(readCheckpoint(db, 'audit')?.position).toBe(1n);
    const [entry] = timeline(db, 'node-n1');
    expect(entry).toMatchObject({ actor: { id: 'op', role: 'operator' }, commandId: 'c-1' });
    expect(entry!.token).toBeUndefined();
    db.close();
  });
});
