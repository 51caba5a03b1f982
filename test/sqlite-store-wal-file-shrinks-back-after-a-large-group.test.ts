import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { ExpectedRevision } from '../domain/ports/index.ts';
import { newEvent } from './store-conformance/helpers.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 23, F4: the event store's writer set no journal_size_limit, so after one large group the -wal file kept its
 * largest size (68 MB after 4,096 appends of 16 kB) until the store closed, though a checkpoint had copied every
 * frame. It is now cut back to 32 MiB (the writer's own checkpoint bound) when the WAL starts over.
 */
const LIMIT = 32 * 1024 * 1024;
const folder = temporaryFolders('credence-wal-limit-');

describe('the event store WAL after a large group', () => {
  it('is cut back under 32 MiB once a checkpoint has copied it and the WAL starts over', async () => {
    const root = folder();
    const dir = join(root, 'data');
    // The thread and the writer's own bound are off: the checkpoint below is the only one, so the test sees the file.
    const store = openSqliteStoreInDir(dir, { durability: 'normal', backgroundCheckpoints: false });
    const db = (store as unknown as { db: Database.Database }).db;
    db.pragma('wal_autocheckpoint = 0');
    const payload = 'x'.repeat(16_000);
    await Promise.all(
      Array.from({ length: 4096 }, (_, i) =>
        store.appendToStream(`big-${i}`, [newEvent('Big', { payload })], { expectedRevision: ExpectedRevision.noStream, commandId: `big-${i}` }),
      ),
    );
    const wal = join(dir, 'events.db-wal');
    expect(statSync(wal).size).toBeGreaterThan(LIMIT);
    // A checkpoint on another connection (as the background thread makes them) copies every frame; the next append
    // starts the WAL over.
    const checkpointer = new Database(join(dir, 'events.db'));
    const [row] = checkpointer.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
    expect(row!.checkpointed).toBe(row!.log);
    checkpointer.close();
    await store.appendToStream('after', [newEvent('Small')], { expectedRevision: ExpectedRevision.noStream });
    expect(statSync(wal).size).toBeLessThanOrEqual(LIMIT);
    expect(await store.readStream('big-4095')).toHaveLength(1);
    await store.close();
  }, 60_000);
});
