import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { fastEventIdFor } from '../adapters/engine/event-ids.ts';
import { AppendRows } from '../adapters/driven/store/sqlite/append-rows.ts';
import { BackgroundCheckpointer } from '../adapters/driven/store/sqlite/checkpointer.ts';
import { prepareDatabase } from '../adapters/driven/store/sqlite/schema.ts';
import { ExpectedRevision } from '../domain/ports/event-store.ts';
import { intervalCommandId } from '../projections/pseudonyms/rotation.ts';
import { now } from './stats.ts';

export interface RotationFloor {
  readonly appends: number;
  readonly ms: number;
  readonly commitMs: number;
}

/**
 * The store's own floor under a rotation tick (issue 15 item 5): the appends one interval rotation of every seeded
 * node makes (a new pseudonym stream each, the node's stream as its fact, the command id as its idempotency key),
 * written with the store's own statements (AppendRows: the command-id lookup, the two heads, the event row and the
 * command row) and pragmas, `group` appends per durable COMMIT, and nothing else: no engine, no machine, no PRF
 * (the pseudonyms are SHA-256 stand-ins with the same random spread), no decoding. The WAL is checkpointed as the
 * store does it, by its background checkpointer on another thread. Run on a copy of the seeded folder: it writes to it.
 */
export const rotationFloor = async (file: string, group: number): Promise<RotationFloor> => {
  const db = new Database(file);
  const checkpointer = new BackgroundCheckpointer(resolve(file), 'full', (pages) => db.pragma(`wal_autocheckpoint = ${pages}`));
  try {
    db.defaultSafeIntegers(true);
    prepareDatabase(db, { busyTimeoutMs: 5000, durability: 'full' });
    const nodes = db
      .prepare("SELECT stream_id, MAX(revision) FROM events WHERE stream_id LIKE 'node-%' GROUP BY stream_id ORDER BY stream_id")
      .raw()
      .all() as [string, bigint][];
    const [data, metadata] = db.prepare("SELECT data, metadata FROM events WHERE type = 'PseudonymRotated' LIMIT 1").raw().get() as [string, string];
    const appends = nodes.map(([nodeStream, head]) => {
      const nodeId = nodeStream.slice('node-'.length);
      const commandId = intervalCommandId(nodeId, 0);
      const pseudonym = createHash('sha256').update(`${nodeId}:1`).digest('base64url');
      return {
        streamId: `pseudonym-${pseudonym}`,
        events: [{ id: fastEventIdFor(commandId, 0), type: 'PseudonymRotated', data, metadata }],
        expected: ExpectedRevision.noStream,
        commandId,
        facts: [{ streamId: nodeStream, revision: head }],
      };
    });
    const rows = new AppendRows(db);
    const begin = db.prepare('BEGIN IMMEDIATE');
    const commit = db.prepare('COMMIT');
    let commitMs = 0;
    const start = now();
    for (let from = 0; from < appends.length; from += group) {
      begin.run();
      for (let i = from; i < Math.min(from + group, appends.length); i++) rows.append(appends[i]!);
      const committing = now();
      commit.run();
      commitMs += now() - committing;
      checkpointer.committed(Math.min(group, appends.length - from));
    }
    return { appends: appends.length, ms: now() - start, commitMs };
  } finally {
    await checkpointer.close();
    db.close();
  }
};
