import { createHash } from 'node:crypto';
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { ExpectedRevision } from '../domain/ports/event-store.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 177: the embedded store has a read-only open for the commands that only read (bin/commands/open-store.ts):
 * it reads what the store holds, writes nothing (no schema transaction, no journal mode, no checkpointer), and
 * refuses an append, typed, rather than SQLite's bare "attempt to write a readonly database".
 */
const folder = temporaryFolders('credence-store-read-only-');

const digests = (dir: string): Record<string, string> =>
  Object.fromEntries(readdirSync(dir).sort().map((name) => [name, createHash('sha256').update(readFileSync(join(dir, name))).digest('hex')]));

const event = (id: string) => ({ id, type: 'NodeRegistered', data: { nodeId: 'meter-1' }, metadata: {} });

describe('the embedded store opened read-only', () => {
  it('reads the events of a stopped store, refuses an append (typed) and leaves the folder as it was', async () => {
    const dir = folder();
    const writer = openSqliteStoreInDir(dir);
    await writer.appendToStream('node-meter-1', [event('00000000-0000-4000-8000-000000000001')], { expectedRevision: ExpectedRevision.noStream });
    await writer.close();
    const before = digests(dir);

    const store = openSqliteStoreInDir(dir, { readOnly: true });
    try {
      expect((await store.readStream('node-meter-1')).map((e) => e.type)).toEqual(['NodeRegistered']);
      const refused = await store
        .appendToStream('node-meter-1', [event('00000000-0000-4000-8000-000000000002')], { expectedRevision: ExpectedRevision.any })
        .then(() => undefined, (error: unknown) => error);
      expect(isCredenceError(refused, 'validation')).toBe(true);
      expect((refused as Error).message).toContain('read-only');
      expect(store.checkpointStats.running).toBe(false);
    } finally {
      await store.close();
    }
    expect(digests(dir)).toEqual(before);
  });

  it('opens while another connection holds the write lock: it takes no write transaction at open', async () => {
    const dir = folder();
    await openSqliteStoreInDir(dir).close();
    const writer = new Database(join(dir, 'events.db'));
    writer.exec('BEGIN IMMEDIATE');
    try {
      const store = openSqliteStoreInDir(dir, { readOnly: true, busyTimeoutMs: 0 });
      expect(await store.headPosition()).toBeUndefined();
      await store.close();
    } finally {
      writer.exec('ROLLBACK');
      writer.close();
    }
  });

  it.each([
    ['an empty file', (file: string) => writeFileSync(file, ''), 'event_store_layout', 'is empty'],
    ['a file of a newer layout', (file: string) => {
        const db = new Database(file);
        db.pragma('user_version = 99');
        db.close();
      }, 'schema_version', 'newer than this build'],
  ])('refuses %s, typed and naming it, and writes nothing to it', (_, make, rule, said) => {
    const dir = folder();
    chmodSync(dir, 0o700);
    make(join(dir, 'events.db'));
    chmodSync(join(dir, 'events.db'), 0o600);
    const before = digests(dir);
    const refused = (() => {
      try {
        openSqliteStoreInDir(dir, { readOnly: true }).close();
        return undefined;
      } catch (error) {
        return error;
      }
    })();
    const issue = isCredenceError(refused, 'validation') && refused.problem.code === 'validation' ? refused.problem.issues[0] : undefined;
    expect(issue).toMatchObject({ path: join(dir, 'events.db'), rule });
    expect((refused as Error).message).toContain(said);
    expect(digests(dir)).toEqual(before);
  });

  it('refuses a folder without events.db and makes nothing there', () => {
    const dir = join(folder(), 'absent');
    expect(() => openSqliteStoreInDir(dir, { readOnly: true })).toThrow(/no event store file/);
    expect(readdirSync(join(dir, '..'))).toEqual([]);
  });
});
