/**
 * Review 196, finding 1: the token columns (review 188) were added to the version-4 audit table in place, without a
 * new version. The build before them, also version 4, went on catching up in a file this build had set up, writing
 * rows without the tokens their events record (it decodes `metadata.token` away), and this build then rebuilt nothing;
 * its own trail, built without the columns, kept no token either. The trail is version 5 now: one written under
 * version 4, with or without the columns, is rebuilt from the log at the first start, its rows naming their tokens.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { body, openApi, settled } from './http-conformance.fixtures.ts';
import { startTestService } from './support/service.ts';

interface Entry {
  token?: { id: string; issuedBy: string };
}

/** What the build before left in the folder's audit trail: version 4, and `rows` as it wrote them. */
const leftByVersion4 = (dir: string, rows: string): void => {
  const db = new Database(join(dir, 'readmodels.db'));
  try {
    db.exec(`UPDATE projection_schemas SET version = 4 WHERE name = 'audit'; ${rows}`);
  } finally {
    db.close();
  }
};

const auditVersion = (dir: string): number => {
  const db = new Database(join(dir, 'readmodels.db'), { readonly: true });
  try {
    return (db.prepare("SELECT version FROM projection_schemas WHERE name = 'audit'").get() as { version: number }).version;
  } finally {
    db.close();
  }
};

describe('an audit trail written under version 4', () => {
  it.each([
    ['rows the build before wrote into the columns this one added (tokens NULL)', 'UPDATE audit_events SET token_id = NULL, token_issued_by = NULL'],
    [
      'the table the build before made (no token columns)',
      // The partial indexes by token (f5a0590) name token_id: dropped with the column, as the build before had none.
      'DROP INDEX IF EXISTS audit_events_token_position; DROP INDEX IF EXISTS audit_events_token_time; ' +
        'ALTER TABLE audit_events DROP COLUMN token_id; ALTER TABLE audit_events DROP COLUMN token_issued_by',
    ],
  ])('is rebuilt at the first start, its rows naming their tokens: %s', async (_case, rows) => {
    const dir = mkdtempSync(join(tmpdir(), 'credence-audit-v4-'));
    try {
      // Given: a command sent with a token the admin issued, recorded with it; the trail then left as version 4 left it.
      let svc = await startTestService({ dir });
      const api = await openApi(svc);
      const minted = await api.call<{ token: string; tokenId: string }>('POST', '/v1/tokens', {}, { token: svc.tokens.admin, body: { subject: 'test-operator', role: 'operator', ttl: '1h' } });
      expect(minted.status, minted.text).toBe(201);
      const sent = await api.call('POST', '/v1/commands', {}, { token: minted.body.token, body: body.registerNode('meter-196-v4') });
      expect(sent.status, sent.text).toBe(201);
      await settled(svc);
      await svc.close();
      leftByVersion4(dir, rows);

      // When: this build starts on the folder.
      svc = await startTestService({ dir });
      try {
        // Then: the trail is this version's, and the timeline names the token again.
        expect(auditVersion(dir)).toBeGreaterThan(4);
        const timeline = await (await openApi(svc)).call<{ entries: Entry[] }>('GET', '/v1/entities/{kind}/{id}/timeline', { kind: 'node', id: 'meter-196-v4' }, { token: svc.tokens.auditor });
        expect(timeline.status, timeline.text).toBe(200);
        expect(timeline.body.entries[0]!.token).toMatchObject({ id: minted.body.tokenId, issuedBy: 'test-admin' });
      } finally {
        await svc.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
