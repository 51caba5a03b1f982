/**
 * Review 286 M1: the record of a clean check of keys.db against the log now names what keys.db held destroyed when
 * it was written. One an earlier version wrote does not: it is not taken as the check done (it may be one a
 * `readmodels.db` restored with `events.db` brought back), and the start's clean check writes it again with them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { operator } from './support/fleet.ts';
import { startTestService } from './support/service.ts';

const DAY = 86_400_000;

/** How many times a start read keys.db against the log. */
const checks = { count: 0 };
vi.mock('../adapters/runtime/keys-destroyed-of-live-entities.ts', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../adapters/runtime/keys-destroyed-of-live-entities.ts')>();
  return {
    ...actual,
    keysDestroyedOfLiveEntities: (...args: Parameters<typeof actual.keysDestroyedOfLiveEntities>) => {
      checks.count += 1;
      return actual.keysDestroyedOfLiveEntities(...args);
    },
  };
});

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const columnsOf = (dir: string): string[] => {
  const db = new Database(join(dir, 'readmodels.db'), { readonly: true });
  try {
    return (db.prepare(`SELECT name FROM pragma_table_info('keys_checked_clean') ORDER BY cid`).all() as { name: string }[]).map((c) => c.name);
  } finally {
    db.close();
  }
};

describe('a keys-checked-clean record an earlier version wrote', () => {
  it('makes the check owed at the next start, which writes it again naming what keys.db holds destroyed; the start after reads keys.db no more', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'credence-keys-checked-clean-earlier-'));
    dirs.push(dir);
    let service = await startTestService({ dir });
    const now = Date.now();
    await service.service.context.credence.engine.execute({
      type: 'createSubscription',
      data: { subscriptionId: 'sub-1', subscriber: 'City Utilities', notBefore: new Date(now - DAY).toISOString(), notAfter: new Date(now + 365 * DAY).toISOString() },
      metadata: { actor: operator },
    });
    await service.close();
    service = await startTestService({ dir });
    await service.close();
    expect(columnsOf(dir)).toContain('keys_destroyed');

    // The record as an earlier version kept it: the same row, without what keys.db held destroyed.
    const db = new Database(join(dir, 'readmodels.db'));
    try {
      db.exec(`CREATE TABLE earlier AS SELECT one, position, event_id, occurred_at FROM keys_checked_clean;
        DROP TABLE keys_checked_clean;
        CREATE TABLE keys_checked_clean (one INTEGER PRIMARY KEY CHECK (one = 1), position INTEGER NOT NULL, event_id TEXT NOT NULL, occurred_at TEXT NOT NULL);
        INSERT INTO keys_checked_clean SELECT * FROM earlier;
        DROP TABLE earlier;`);
      expect(db.prepare('SELECT count(*) AS n FROM keys_checked_clean').get()).toEqual({ n: 1 });
    } finally {
      db.close();
    }

    checks.count = 0;
    service = await startTestService({ dir });
    await service.close();
    expect(checks.count).toBe(1);
    expect(columnsOf(dir)).toEqual(['one', 'position', 'event_id', 'occurred_at', 'keys_destroyed', 'keys_destroyed_latest']);

    service = await startTestService({ dir });
    await service.close();
    expect(checks.count).toBe(1);
  }, 60_000);
});
