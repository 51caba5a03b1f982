import Database from 'better-sqlite3';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { run as exportCommand } from '../bin/commands/export.ts';
import { capture } from './support/cli.ts';
import { STREAMS, appendEvents, tempDirs } from './transparency-fixtures.ts';

/*
 * Review 262 follow-up: the log's newest leaf row relabelled (its stream_id, revision, position) escapes export's rule
 * for an event the stream index lost (the checkpoint's last leaf's own position is what was rewritten). A fresh export
 * process refuses it at its first catch-up (TransparencyLogOfAnotherLog: the newest leaf is not the event the store
 * holds at its position), which escaped the command as an unhandled rejection: it is a refusal naming the log file and
 * the audit that tells what changed, exit 1, with nothing written.
 */

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

// Nine events round-robin over three streams: credential-meter-2 has revisions 0-2 at leaves 2, 5 and 8 (the newest).
const STREAM = STREAMS[2];

let exported = 0;
const exportTo = async (dir: string) => {
  const file = join(dir, `bundle-${(exported += 1)}.json`);
  const c = capture();
  const code = await exportCommand([STREAM, '--out', file, '--data', dir], c.io);
  return { code, file, out: c.out.join('\n'), err: c.err.join('\n') };
};

it('refuses, exit 1, an export over a log whose newest leaf row was relabelled, naming transparency.db and verify --data, and writes nothing', async () => {
  const dir = dirs.make();
  const store = openSqliteStoreInDir(dir);
  await appendEvents(store, 9);
  await store.close();
  expect((await exportTo(dir)).code).toBe(0);

  // The newest leaf (leaf 8, position 9: the stream's last event) moved to another stream and position.
  const db = new Database(join(dir, 'transparency.db'));
  db.prepare(`UPDATE leaves SET stream_id = 'node-meter-3x', revision = 0, position = 0 WHERE leaf_index = 8`).run();
  db.close();
  const before = readdirSync(dir).sort();
  const refused = await exportTo(dir);
  expect(refused.code).toBe(1);
  expect(refused.err).toContain('transparency_log_of_another_log');
  expect(refused.err).toContain(join(dir, 'transparency.db'));
  expect(refused.err).toContain('credence verify --data');
  expect(refused.out).toBe('');
  expect(existsSync(refused.file)).toBe(false);
  expect(readdirSync(dir).sort()).toEqual(before);
  // The same at the next export (the refusal is kept in the log file).
  const again = await exportTo(dir);
  expect(again.code).toBe(1);
  expect(again.err).toContain('credence verify --data');
});
