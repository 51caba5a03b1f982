import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createWhole } from '../adapters/driven/files/private-sqlite.ts';

const folders: string[] = [];
afterEach(() => {
  for (const dir of folders.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/**
 * Review 71: a keys.db or access.db made whole was a rollback-journal file that its first open switched to WAL; the
 * switch writes a -journal, and a kill inside it left one hot, which the read-only openers (key list, key destroy)
 * cannot read. Made a WAL file from its first byte, the open's switch writes nothing.
 */
describe('a database file made whole', () => {
  it('is a WAL file before any open: header versions 2, a read-only open finds its schema and makes no -journal', () => {
    const dir = mkdtempSync(join(tmpdir(), 'credence-whole-'));
    folders.push(dir);
    const path = join(dir, 'keys.db');
    createWhole(path, { what: 'test', version: 3, sql: 'CREATE TABLE IF NOT EXISTS bindings (handle TEXT PRIMARY KEY)' });
    const header = readFileSync(path).subarray(18, 20);
    expect([...header]).toEqual([2, 2]);
    const db = new Database(path, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('user_version', { simple: true })).toBe(3);
    expect(db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all()).toEqual([{ name: 'bindings' }]);
    db.close();
    expect(existsSync(`${path}-journal`)).toBe(false);
  });
});
