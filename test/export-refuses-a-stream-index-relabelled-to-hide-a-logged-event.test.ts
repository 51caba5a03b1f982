import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { openSqliteStore, openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { openTransparencyLog } from '../adapters/driven/transparency/index.ts';
import { run as exportCommand } from '../bin/commands/export.ts';
import { ExpectedRevision } from '../domain/ports/index.ts';
import { collectEvidence, TransparencyProjection } from '../projections/transparency/index.ts';
import { capture } from './support/cli.ts';
import { ORIGIN, STREAMS, appendEvents, eventId, fixedSigner, tempDirs } from './transparency-fixtures.ts';

/*
 * Review 262: the log's stream index (`stream_id`, `revision`, `position` of a leaf row) is under no signature. The
 * leaf of a stream's last event relabelled to another stream and position made export sign, with the genuine key, a
 * head one event short, and explain the hidden event as "appended during the export, after that checkpoint" (on every
 * export). An event at or below the position of the checkpoint's last leaf was logged before it: its leaf is missing
 * from the index, which is the log file altered, and nothing is signed.
 */

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

// Nine events round-robin over three streams: credential-meter-2 has revisions 0-2 at leaves 2, 5 and 8.
const STREAM = STREAMS[2];
const signer = fixedSigner(1);

let exported = 0;
const exportTo = async (dir: string) => {
  const file = join(dir, `bundle-${(exported += 1)}.json`);
  const c = capture();
  const code = await exportCommand([STREAM, '--out', file, '--data', dir], c.io);
  return { code, file, err: c.err.join('\n') };
};

it('refuses to export a stream whose logged event was relabelled in the stream index, and signs nothing', async () => {
  const dir = dirs.make();
  const store = openSqliteStoreInDir(dir);
  await appendEvents(store, 9);
  // One event of another stream after it, so that the relabelled leaf is not the log's newest.
  await appendEvents(store, 1, 9);
  await store.close();
  expect((await exportTo(dir)).code).toBe(0);

  // The stream's last event (revision 2: leaf 8, position 9) moved to another stream and position, as review 262 did.
  const db = new Database(join(dir, 'transparency.db'));
  db.prepare(`UPDATE leaves SET stream_id = 'node-meter-3x', revision = 0, position = 0 WHERE leaf_index = 8`).run();
  db.close();
  const refused = await exportTo(dir);
  expect(refused.code).toBe(1);
  expect(refused.err).toMatch(/the log's stream index gives revision 2 of credential-meter-2 \(position 9\) no leaf, though the checkpoint's last leaf is at position 10/);
  expect(refused.err).toContain('run credence verify --data');
  expect(refused.err).not.toContain('appended during the export');
  expect(existsSync(refused.file)).toBe(false);
  // The same on every export: nothing says the event was appended meanwhile.
  expect((await exportTo(dir)).code).toBe(1);
});

it('still exports what the checkpoint covers and counts an event appended after it as appended during the export', async () => {
  const store = openSqliteStore({ memory: true });
  const log = openTransparencyLog({ memory: true });
  const projection = new TransparencyProjection({ store, log, signer, origin: ORIGIN, now: () => new Date('2026-03-01T00:00:00Z'), checkpointEveryLeaves: 100, checkpointEveryMs: 0 });
  try {
    await appendEvents(store, 9);
    await projection.catchUp();
    await projection.checkpoint();
    // Appended after the checkpoint and logged before the next one: the leaf exists, past the signed tree.
    await store.appendToStream(STREAM, [{ id: eventId(99), type: 'NodeRevoked', data: { reason: 'compromised' }, metadata: { actor: 'operator-1' } }], { expectedRevision: ExpectedRevision.any });
    await projection.catchUp();
    const evidence = await collectEvidence({ streamId: STREAM, streamEvents: await store.readStream(STREAM), log, signer });
    expect({ treeSize: evidence.treeSize, storedAfter: evidence.storedAfter, entries: evidence.bundle.entries.length }).toEqual({ treeSize: 9, storedAfter: 1, entries: 3 });
    // One the log has not caught up with yet is the same.
    await store.appendToStream(STREAM, [{ id: eventId(100), type: 'NodeRevoked', data: { reason: 'again' }, metadata: { actor: 'operator-1' } }], { expectedRevision: ExpectedRevision.any });
    expect((await collectEvidence({ streamId: STREAM, streamEvents: await store.readStream(STREAM), log, signer })).storedAfter).toBe(2);
  } finally {
    await store.close();
    log.close();
  }
});
