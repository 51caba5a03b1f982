import Database from 'better-sqlite3';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { eventLeafHash } from '../domain/transparency/index.ts';
import { exportedFolder } from './support/exported-folder.ts';
import { verifyData } from './support/logged-data.ts';
import { alterFile, alterLog } from './support/tampered-log.ts';
import { readAllEvents, tempDirs } from './transparency-fixtures.ts';

/*
 * Found in review 164: transparency.db altered where it also breaks the audit path of the leaf (its sibling leaf, or a
 * stored subtree on the path) was blamed on events.db, "edited at position 3", exit 1: the operator would have
 * restored events.db from a backup and lost the events since. events.db untouched hashes to the signed root by itself,
 * so the store is intact through the checkpoint and the leaf's disagreement is the log file's.
 */
const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const audit = verifyData;

const LOG_ONLY: readonly (readonly [string, string])[] = [
  [
    'the hashes of leaves 2 and 3 swapped',
    // Through a copy: an UPDATE's subquery reads the rows it has already changed.
    'CREATE TEMP TABLE was AS SELECT leaf_index, leaf_hash FROM leaves WHERE leaf_index IN (2, 3); ' +
      'UPDATE leaves SET leaf_hash = (SELECT leaf_hash FROM was WHERE was.leaf_index = 5 - leaves.leaf_index) WHERE leaf_index IN (2, 3)',
  ],
  ['leaves 2 and 3 zeroed', 'UPDATE leaves SET leaf_hash = zeroblob(32) WHERE leaf_index IN (2, 3)'],
  [
    'leaf 2 and the stored subtree (2, 1) zeroed',
    'UPDATE leaves SET leaf_hash = zeroblob(32) WHERE leaf_index = 2; UPDATE nodes SET hash = zeroblob(32) WHERE level = 2 AND idx = 1',
  ],
];

describe('verify --data over a transparency.db altered along the audit path of a leaf, events.db untouched', () => {
  it.each(LOG_ONLY)('%s: log_mismatch naming leaf 2 of the log file, not an event edited in events.db', async (_what, sql) => {
    const { dir } = await exportedFolder(dirs, 9);
    const before = readFileSync(join(dir, 'events.db'));
    alterLog(dir, sql);
    const result = await audit(dir);
    expect(readFileSync(join(dir, 'events.db')).equals(before), 'events.db is byte-for-byte as it was').toBe(true);
    expect(result.code, result.err).toBe(1);
    expect(result.err).toMatch(/^TAMPERED: log_mismatch at position 3: transparency\.db: leaf 2 \(position 3\) .*the log file was altered, not events\.db/);
    expect(result.err).not.toMatch(/edited/);
    expect(result.document).toMatchObject({ ok: false, kind: 'log_mismatch', leafIndex: 2 });
  });

  it('an event edited in events.db, its leaf and sibling zeroed too: still the store edited', async () => {
    const { dir } = await exportedFolder(dirs, 9);
    alterFile(dir, 'events.db', `UPDATE events SET data = json_set(data, '$.label', 'forged') WHERE position = 3`);
    alterLog(dir, 'UPDATE leaves SET leaf_hash = zeroblob(32) WHERE leaf_index IN (2, 3)');
    const result = await audit(dir);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/^TAMPERED: edited at position 3: /);
  });

  it("an event's id edited in events.db and its leaf's hash rewritten to match: the store, the leaf's hash no witness under the checkpoint", async () => {
    const { dir } = await exportedFolder(dirs, 9);
    alterFile(dir, 'events.db', `UPDATE events SET event_id = '00000000-0000-4000-8000-999999999999' WHERE position = 3`);
    const store = openSqliteStoreInDir(dir);
    const edited = (await readAllEvents(store)).find((event) => event.position === 3n)!;
    await store.close();
    const log = new Database(join(dir, 'transparency.db'));
    log.prepare('UPDATE leaves SET leaf_hash = ? WHERE leaf_index = 2').run(Buffer.from(eventLeafHash(edited)));
    log.close();
    const result = await audit(dir);
    expect(result.code).toBe(1);
    // Both files altered, the leaf row vouched for by nothing: the store is named, at its first disagreement with the
    // log, not the event there (review 167: that named untouched events when the edit was further on).
    expect(result.err).toMatch(/^TAMPERED: edited at position 3: the stored events no longer hash to the signed root \(first disagreement with the log at position 3\)/);
  });

  it('an event edited in events.db further on than a leaf zeroed in transparency.db: the store is named, not intact', async () => {
    const { dir } = await exportedFolder(dirs, 9);
    alterLog(dir, 'UPDATE leaves SET leaf_hash = zeroblob(32) WHERE leaf_index IN (2, 3)');
    alterFile(dir, 'events.db', `UPDATE events SET data = json_set(data, '$.label', 'forged') WHERE position = 7`);
    const result = await audit(dir);
    expect(result.code).toBe(1);
    expect(result.err).not.toMatch(/not events\.db/);
  });
});
