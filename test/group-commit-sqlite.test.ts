import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStoreInDir, type SqliteEventStore } from '../adapters/driven/store/index.ts';
import { ExpectedRevision } from '../domain/ports/index.ts';
import { newEvent } from './store-conformance/helpers.ts';

/** Issue 15 item 1: durable by default, and appends issued together are committed as one group (one sync). */
const dirs: string[] = [];
const freshDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-group-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const pragmaOf = (store: SqliteEventStore, name: string): number => Number((store as unknown as { db: Database.Database }).db.pragma(name, { simple: true }));
const synchronousOf = (store: SqliteEventStore): number => pragmaOf(store, 'synchronous');

describe('the embedded store acknowledges durable appends, committed in groups', () => {
  it('syncs every commit by default (synchronous = FULL in WAL, F_FULLFSYNC on macOS) and only at checkpoints with durability normal', async () => {
    const durable = openSqliteStoreInDir(join(freshDir(), 'a'));
    const normal = openSqliteStoreInDir(join(freshDir(), 'b'), { durability: 'normal' });
    expect([durable.durability, synchronousOf(durable)]).toEqual(['full', 2]);
    expect([normal.durability, synchronousOf(normal)]).toEqual(['normal', 1]);
    // macOS: a sync that reaches the medium (F_FULLFSYNC), not only the drive's cache, when durable.
    expect([pragmaOf(durable, 'fullfsync'), pragmaOf(durable, 'checkpoint_fullfsync')]).toEqual([1, 1]);
    expect([pragmaOf(normal, 'fullfsync'), pragmaOf(normal, 'checkpoint_fullfsync')]).toEqual([0, 0]);
    await durable.close();
    await normal.close();
    expect(() => openSqliteStoreInDir(join(freshDir(), 'c'), { durability: 'fast' as 'full' })).toThrow(/options\.durability: must be one of full, normal/);
  });

  it('commits 64 appends issued together in one transaction, each with its own revision and position', async () => {
    const store = openSqliteStoreInDir(join(freshDir(), 'data'));
    const before = { ...store.groupStats };
    const results = await Promise.all(
      Array.from({ length: 64 }, (_, i) => store.appendToStream(`s-${i}`, [newEvent('E', { i })], { expectedRevision: ExpectedRevision.noStream })),
    );
    expect(store.groupStats.groups - before.groups).toBe(1);
    expect(store.groupStats.largestGroup).toBe(64);
    expect(new Set(results.map((r) => r.position)).size).toBe(64);
    await store.close();
  });

  it('a refusal inside the group rolls back only that append: a failing hook, a duplicate event id', async () => {
    const dir = join(freshDir(), 'data');
    const store = openSqliteStoreInDir(dir, {
      beforeCommit: (streamId) => {
        if (streamId === 'poisoned') throw new Error('hook refused poisoned');
      },
    });
    const shared = newEvent('Dup');
    const settled = await Promise.allSettled([
      store.appendToStream('left', [newEvent('L'), newEvent('L')], { expectedRevision: ExpectedRevision.noStream, commandId: 'left-cmd' }),
      store.appendToStream('poisoned', [newEvent('P'), newEvent('P')], { expectedRevision: ExpectedRevision.noStream, commandId: 'poison-cmd' }),
      store.appendToStream('first', [shared], { expectedRevision: ExpectedRevision.noStream }),
      store.appendToStream('second', [newEvent('S'), shared], { expectedRevision: ExpectedRevision.noStream }),
      store.appendToStream('right', [newEvent('R')], { expectedRevision: ExpectedRevision.noStream }),
    ]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled']);
    expect(String((settled[1] as PromiseRejectedResult).reason)).toMatch(/hook refused poisoned/);
    expect(String((settled[3] as PromiseRejectedResult).reason)).toMatch(/events\[1\]\.id: event id .* is already stored/);
    await store.close();
    // Reopened: what was acknowledged is there, nothing of the refused appends (not even their command ids).
    const reopened = openSqliteStoreInDir(dir);
    expect((await reopened.readStream('left')).length).toBe(2);
    expect((await reopened.readStream('right')).length).toBe(1);
    expect(await reopened.readStream('poisoned')).toEqual([]);
    expect(await reopened.readStream('second')).toEqual([]);
    const retried = await reopened.appendToStream('poisoned', [newEvent('P')], { expectedRevision: ExpectedRevision.noStream, commandId: 'poison-cmd' });
    expect(retried.deduplicated).toBe(false);
    await reopened.close();
  });

  it('a one-event append refused at its insert leaves nothing behind, not even its command id, and no neighbour fails', async () => {
    const store = openSqliteStoreInDir(join(freshDir(), 'data'));
    const shared = newEvent('Dup');
    const settled = await Promise.allSettled([
      store.appendToStream('one', [shared], { expectedRevision: ExpectedRevision.noStream, commandId: 'cmd-one' }),
      store.appendToStream('two', [shared], { expectedRevision: ExpectedRevision.noStream, commandId: 'cmd-two' }),
      store.appendToStream('three', [newEvent('T')], { expectedRevision: ExpectedRevision.noStream, commandId: 'cmd-three' }),
    ]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(String((settled[1] as PromiseRejectedResult).reason)).toMatch(/events\[0\]\.id: event id .* is already stored/);
    expect(await store.readStream('two')).toEqual([]);
    const retried = await store.appendToStream('two', [newEvent('D')], { expectedRevision: ExpectedRevision.noStream, commandId: 'cmd-two' });
    expect(retried.deduplicated).toBe(false);
    expect((await store.readStream('three')).length).toBe(1);
    await store.close();
  });

  it('stores what was passed when the append was made, even if the caller changes its objects before the group commits', async () => {
    const store = openSqliteStoreInDir(join(freshDir(), 'data'), { durability: 'normal' });
    const event = newEvent('Before', { value: 'original' });
    const pending = store.appendToStream('mutated', [event], { expectedRevision: ExpectedRevision.noStream });
    (event.data as { value: string }).value = 'changed';
    (event as { type: string }).type = 'After';
    await pending;
    const [stored] = await store.readStream('mutated');
    expect([stored?.type, stored?.data]).toEqual(['Before', { value: 'original' }]);
    await store.close();
  });

  it('close commits the appends already accepted before the connection goes', async () => {
    const dir = join(freshDir(), 'data');
    const store = openSqliteStoreInDir(dir);
    const pending = store.appendToStream('late', [newEvent('L')], { expectedRevision: ExpectedRevision.noStream });
    await store.close();
    expect((await pending).nextExpectedRevision).toBe(0n);
    const reopened = openSqliteStoreInDir(dir);
    expect(await reopened.readStream('late')).toHaveLength(1);
    await reopened.close();
  });

  it('when another connection holds the write lock past the busy timeout, the whole group fails and writes nothing', async () => {
    const dir = join(freshDir(), 'data');
    const store = openSqliteStoreInDir(dir, { busyTimeoutMs: 50 });
    await store.appendToStream('warm', [newEvent('W')], { expectedRevision: ExpectedRevision.noStream });
    const other = new Database(join(dir, 'events.db'));
    other.prepare('BEGIN IMMEDIATE').run();
    const settled = await Promise.allSettled([
      store.appendToStream('x', [newEvent('X')], { expectedRevision: ExpectedRevision.noStream }),
      store.appendToStream('y', [newEvent('Y')], { expectedRevision: ExpectedRevision.noStream }),
    ]);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
    expect(String((settled[0] as PromiseRejectedResult).reason)).toMatch(/locked|busy/i);
    other.prepare('ROLLBACK').run();
    other.close();
    expect(await store.readStream('x')).toEqual([]);
    expect((await store.appendToStream('x', [newEvent('X')], { expectedRevision: ExpectedRevision.noStream })).nextExpectedRevision).toBe(0n);
    await store.close();
  });
});
