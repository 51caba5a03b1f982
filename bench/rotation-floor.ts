import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { fastEventIdFor } from '../adapters/engine/event-ids.ts';
import { AppendRows, type AppendRequest } from '../adapters/driven/store/sqlite/append-rows.ts';
import { BackgroundCheckpointer, NO_CHECKPOINTS, type CheckpointStats } from '../adapters/driven/store/sqlite/checkpointer.ts';
import { prepareDatabase } from '../adapters/driven/store/sqlite/schema.ts';
import { ExpectedRevision } from '../domain/ports/event-store.ts';
import { PseudonymDeriver } from '../projections/pseudonyms/index.ts';
import { intervalCommandId } from '../projections/pseudonyms/rotation.ts';
import { now } from './stats.ts';

export interface RotationFloor {
  readonly appends: number;
  readonly ms: number;
  readonly commitMs: number;
  /** The background checkpoints made meanwhile (none when `inlineCheckpoints`). */
  readonly checkpoints: Readonly<CheckpointStats>;
}

/** A keyed PRF for the stand-in pseudonyms: SHA-256 spreads them as the Secure Environment's HMAC does. */
const standInKey = { prf: async (input: Uint8Array) => new Uint8Array(createHash('sha256').update(input).digest()) };

/**
 * The store's own floor under a rotation tick (issue 15 item 5): the appends one interval rotation of every seeded
 * node makes, written with the store's own statements (AppendRows: the command-id lookup, the new stream's head, the
 * node's head as the fact, the event row, the command row) and pragmas, `group` appends per durable COMMIT, and
 * nothing else: no engine, no machine, no Secure Environment, no decoding. The rows are the tick's: stream ids in
 * the deriver's format, command and event ids derived as the tick derives them (the seeded nodes are at epoch 0, so
 * their interval command ids are those of epoch 0), one node fact at its head, no savepoint (a one-event append has
 * none), and the data and metadata text of a stored rotation (within a few bytes of the tick's). The WAL is
 * checkpointed as the store does it: by its background checkpointer, or inside the commits with `inlineCheckpoints`.
 * Run on a copy of the seeded folder: it writes to it.
 */
export const rotationFloor = async (file: string, group: number, inlineCheckpoints = false): Promise<RotationFloor> => {
  const db = new Database(file, { fileMustExist: true });
  const checkpointer = inlineCheckpoints ? undefined : new BackgroundCheckpointer(resolve(file), 'full', (pages) => db.pragma(`wal_autocheckpoint = ${pages}`));
  let written: Omit<RotationFloor, 'checkpoints'>;
  try {
    db.defaultSafeIntegers(true);
    prepareDatabase(db, { busyTimeoutMs: 5000, durability: 'full' });
    const nodes = db
      .prepare("SELECT stream_id, MAX(revision) FROM events WHERE stream_id LIKE 'node-%' GROUP BY stream_id ORDER BY stream_id")
      .raw()
      .all() as [string, bigint][];
    const sample = db.prepare("SELECT data, metadata FROM events WHERE type = 'PseudonymRotated' LIMIT 1").raw().get() as [string, string] | undefined;
    if (nodes.length === 0 || sample === undefined) throw new Error(`rotation floor: ${file} holds no seeded nodes and rotations (seed-nodes first)`);
    const [data, metadata] = sample;
    const nodeIds = nodes.map(([nodeStream]) => nodeStream.slice('node-'.length));
    const pseudonyms = await new PseudonymDeriver(standInKey).nodes(nodeIds.map((nodeId) => ({ nodeId, epoch: 1 })));
    const appends = nodes.map(([nodeStream, head], i): AppendRequest => {
      const commandId = intervalCommandId(nodeIds[i]!, 0);
      return {
        streamId: `pseudonym-${pseudonyms[i]!}`,
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
      checkpointer?.committed(Math.min(group, appends.length - from));
    }
    written = { appends: appends.length, ms: now() - start, commitMs };
  } finally {
    await checkpointer?.close();
    db.close();
  }
  return { ...written, checkpoints: checkpointer?.stats ?? NO_CHECKPOINTS };
};
