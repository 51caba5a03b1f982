import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore, type SqliteEventStore } from '../adapters/driven/store/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { ExpectedRevision, MAX_STREAMS_PER_READ } from '../domain/ports/index.ts';
import { newEvent, newEvents } from './store-conformance/helpers.ts';

/**
 * `readStreams` (issue 15 item 5: a rotation tick reads its chunk's node facts in one query) answers exactly what
 * `readStream` answers for each stream asked for, and a damaged row fails it with the same typed error.
 */
describe('the embedded store reads many streams in one read', () => {
  let dir: string;
  let store: SqliteEventStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'credence-read-streams-'));
    store = openSqliteStore({ file: join(dir, 'events.db') });
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('gives each stream its events in revision order, an absent stream an empty list, and asks once for a repeated id', async () => {
    const any = { expectedRevision: ExpectedRevision.any };
    // Interleaved appends: global order and stream order differ.
    for (let round = 0; round < 3; round++) {
      for (const stream of ['node-b', 'node-a', 'node-c']) await store.appendToStream(stream, newEvents(`E${round}`, round + 1), any);
    }
    await store.appendToStream('node-a-longer', [newEvent('Other')], any);

    const asked = ['node-c', 'node-missing', 'node-a', 'node-c'];
    const streams = await store.readStreams(asked);
    expect([...streams.keys()]).toEqual(['node-c', 'node-missing', 'node-a']);
    for (const streamId of streams.keys()) expect(streams.get(streamId)).toEqual(await store.readStream(streamId));
    expect(streams.get('node-a')).toHaveLength(6);
    expect(streams.get('node-missing')).toEqual([]);
    expect((await store.readStreams([])).size).toBe(0);
  });

  it('reads ids with quotes, backslashes, NUL and non-ASCII characters as readStream does', async () => {
    const any = { expectedRevision: ExpectedRevision.any };
    const ids = ["node-o'brien", 'node-"q"', 'node-\\x', 'node-a\u0000b', 'node-ünï€😀', 'node-a'];
    for (const [i, id] of ids.entries()) await store.appendToStream(id, newEvents('E', i + 1), any);
    const streams = await store.readStreams(ids);
    for (const [i, id] of ids.entries()) {
      expect(streams.get(id)).toHaveLength(i + 1);
      expect(streams.get(id)).toEqual(await store.readStream(id));
    }
  });

  it('refuses an id that is not well-formed Unicode, naming it, rather than failing on the row it reads back', async () => {
    const any = { expectedRevision: ExpectedRevision.any };
    // A lone surrogate is stored as bytes that read back as other characters: no row could be matched to the id. An
    // append under it is refused now too (sqlite-store-refuses-ids-that-would-not-read-back.test.ts); what one stored
    // before reads back as U+FFFD.
    await store.appendToStream('node-x\ufffd\ufffd\ufffd', [newEvent('E')], any);
    await expect(store.readStreams(['node-a', 'node-x\ud800'])).rejects.toThrow('streamIds[1]: must be well-formed Unicode (no lone surrogate)');
  });

  it('refuses a malformed list, naming the argument', async () => {
    await expect(store.readStreams('node-a' as unknown as string[])).rejects.toThrow('streamIds: must be an array');
    await expect(store.readStreams(['node-a', ''])).rejects.toThrow('streamIds[1]: must be a non-empty string');
    // A hole in a sparse list is no stream id either.
    await expect(store.readStreams(['node-a', , 'node-b'] as string[])).rejects.toThrow('streamIds[1]: must be a non-empty string');
    const tooMany = Array.from({ length: MAX_STREAMS_PER_READ + 1 }, (_, i) => `node-${i}`);
    await expect(store.readStreams(tooMany)).rejects.toThrow(`at most ${MAX_STREAMS_PER_READ} distinct streams`);
    // Repeats count once: the bound is on what the read holds.
    await expect(store.readStreams([...tooMany.slice(0, MAX_STREAMS_PER_READ), 'node-0'])).resolves.toHaveProperty('size', MAX_STREAMS_PER_READ);
  });

  it('fails on a damaged row with the typed error readStream gives, naming its position and column', async () => {
    const any = { expectedRevision: ExpectedRevision.any };
    await store.appendToStream('node-a', [newEvent('Enrolled')], any);
    const damagedAt = await store.appendToStream('node-b', [newEvent('Enrolled')], any);
    const raw = new Database(join(dir, 'events.db'));
    raw.prepare("UPDATE events SET data = '[1]' WHERE position = ?").run(damagedAt.position);
    raw.close();
    const bulk = await store.readStreams(['node-a', 'node-b']).catch((e: unknown) => e);
    const single = await store.readStream('node-b').catch((e: unknown) => e);
    expect(isCredenceError(bulk, 'validation')).toBe(true);
    expect((bulk as Error).message).toBe((single as Error).message);
    expect((bulk as Error).message).toContain(`stored event at position ${damagedAt.position}`);
    expect((bulk as Error).message).toContain('data: is not a JSON object');
  });

  it('is refused once the store is closed', async () => {
    await store.close();
    await expect(store.readStreams(['node-a'])).rejects.toThrow('the event store is closed');
  });
});
