import { join } from 'node:path';
import Database from 'better-sqlite3';
import { fc, test as property } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { eventsDbRangeSourceInDir } from '../adapters/driven/store/sqlite/events-db-reader.ts';
import { CheckpointFile } from '../adapters/driven/replay-checkpoint/checkpoint-file.ts';
import { verifyFleet } from '../adapters/replay-workers/verify-fleet.ts';
import { prunedBeyondSafeNesting, SAFE_NESTING, stringifyJson, stringifyWithoutRecursion } from '../domain/json-limits.ts';
import { replayAll } from '../projections/replay/index.ts';
import { dataDirs } from './replay.fixtures.ts';
import { establishedFleet } from './support/fleet.ts';

/*
 * Found in review: one stored row nested 200,000 levels deep ended `credence replay` with a RangeError (the record
 * digest's JSON.stringify, and the structured clone of the record to a worker fed records) instead of a verdict.
 */

const DEPTH = 200_000;

describe('a stored row nested past any stack', () => {
  const dataDir = dataDirs('credence-replay-deep-row-');

  it('is a finding in every form of the fleet replay, with the checkpoint digest written', async () => {
    const dir = dataDir();
    const { store } = await establishedFleet(2, openSqliteStoreInDir(dir));
    await store.close();
    const db = new Database(join(dir, 'events.db'));
    const position = db.prepare(`SELECT position FROM events WHERE stream_id = 'node-meter-1' AND revision = 0`).pluck().get() as number;
    db.prepare(`UPDATE events SET data = ? WHERE position = ?`).run(`{"x":${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}}`, position);
    db.close();
    const reopened = openSqliteStoreInDir(dir);
    try {
      const single = await replayAll(reopened);
      // The node's later events are refused in turn (it was never registered): the row itself comes first.
      expect(single.findings[0]).toMatchObject({ position: BigInt(position), reason: expect.stringMatching(/^unreadable: data\.x\..*nested deeper than 16 levels/) });
      for (const options of [{ workers: 1 }, { workers: 2 }, { workers: 2, source: eventsDbRangeSourceInDir(dir) }]) {
        const checkpoint = new CheckpointFile(dataDir());
        const verified = await verifyFleet(reopened, { ...options, checkpoint });
        expect(verified.replay.findings).toEqual(single.findings);
        expect(checkpoint.load()).toMatchObject({ ok: true });
      }
    } finally {
      await reopened.close();
    }
  });
});

describe('stringifyJson', () => {
  property.prop([fc.jsonValue()])('writes what JSON.stringify writes', (value) => {
    expect(stringifyJson(value)).toBe(JSON.stringify(value));
    // The writing it falls back on for a value past the stack: the same text.
    expect(stringifyWithoutRecursion(value)).toBe(JSON.stringify(value));
  });

  it('writes a value nested past SAFE_NESTING as JSON.stringify would have, without recursion', () => {
    let value: unknown = { leaf: [1, 'two', null, true] };
    for (let i = 0; i < 1_000; i++) value = i % 2 === 0 ? [value, i] : { k: value, 'q"uote': -0.5 };
    expect(() => JSON.stringify(value)).not.toThrow(); // 1,000 levels still fit this thread's stack: the reference
    expect(stringifyJson(value)).toBe(JSON.stringify(value));
    expect(stringifyWithoutRecursion(value)).toBe(JSON.stringify(value));
  });

  it('is the value itself below SAFE_NESTING, and a pruned copy that keeps its first SAFE_NESTING levels above it', () => {
    const shallow = { a: [{ b: 1 }] };
    expect(prunedBeyondSafeNesting(shallow)).toBe(shallow);
    let deep: unknown = [];
    for (let i = 0; i < SAFE_NESTING + 10; i++) deep = [deep];
    const pruned = prunedBeyondSafeNesting(deep);
    let levels = 0;
    for (let v: unknown = pruned; Array.isArray(v); v = v[0]) levels++;
    expect(levels).toBe(SAFE_NESTING);
  });
});
