import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { eventsDbRangeSourceInDir } from '../adapters/driven/store/sqlite/events-db-reader.ts';
import { addTally } from '../adapters/replay-workers/merge-partitions.ts';
import { replayInWorkers } from '../adapters/replay-workers/pool.ts';
import { emptyTally } from '../projections/replay/verifier.ts';
import { dataDirs } from './replay.fixtures.ts';

/*
 * Review 420 (F1): the workers' tallies were merged with `push(...findings)`, one argument per finding, which throws
 * RangeError (Maximum call stack size exceeded) past some 125,000 of them on Node 20: 400,000 unreadable rows were
 * 400,000 findings for the one-thread replay and an error for two workers. A partition's findings are appended one by
 * one now, however many there are.
 */
describe('the workers merge a partition of more findings than one call takes arguments', () => {
  /** More findings than a spread into one call takes (Node 20: some 125,000). */
  const MANY = 210_000;
  const dataDir = dataDirs('credence-many-findings-');

  it('adds a tally of MANY findings to another, in order after those it held', () => {
    const into = emptyTally();
    const from = emptyTally();
    const finding = (n: number) => ({ streamId: 'node-meter-1', position: BigInt(n), revision: BigInt(n), type: 'NodeRegistered', reason: 'unreadable' });
    into.findings.push(finding(0));
    for (let n = 1; n <= MANY; n++) from.findings.push(finding(n));
    addTally(into, from);
    expect(into.findings).toHaveLength(MANY + 1);
    expect(into.findings[0]!.position).toBe(0n);
    expect(into.findings[MANY]!.position).toBe(BigInt(MANY));
  });

  it('gives the verdict on a store whose one stream holds MANY unreadable events, in one partition', async () => {
    const dir = dataDir();
    await openSqliteStoreInDir(dir).close();
    // Written behind the store in one transaction: MANY NodeRegistered rows of one node, none of them readable.
    const db = new Database(join(dir, 'events.db'));
    const insert = db.prepare("INSERT INTO events (stream_id, revision, event_id, type, data, metadata) VALUES ('node-meter-1', ?, ?, 'NodeRegistered', '{}', '{}')");
    db.transaction(() => {
      for (let n = 0; n < MANY; n++) insert.run(n, randomUUID());
    })();
    db.close();
    const store = openSqliteStoreInDir(dir);
    try {
      const { replay } = await replayInWorkers(store, { workers: 2, source: eventsDbRangeSourceInDir(dir) });
      expect(replay.findings).toHaveLength(MANY);
      expect(replay.brokenStreams).toEqual(['node-meter-1']);
      expect(replay.events).toBe(MANY);
    } finally {
      await store.close();
    }
  }, 120_000);
});
