import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { openTransparencyLogInDir } from '../adapters/driven/transparency/index.ts';
import { readEventsDbInDir } from '../adapters/driven/store/index.ts';
import { eventLeafHash } from '../domain/transparency/index.ts';
import { TransparencyProjection } from '../projections/transparency/index.ts';
import { checkpointedFolder } from './support/logged-data.ts';
import { ORIGIN, appendEvents, fixedSigner, tempDirs, auditDataDir } from './transparency-fixtures.ts';

/*
 * Issue 4 item 7 (SER-003): an event edited, deleted, reordered or inserted directly in events.db is detected,
 * and the FIRST bad position is reported.
 */

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const signer = fixedSigner();

/** A data folder with 12 logged events, a checkpoint over the first 10, and 2 more logged after it. */
const loggedDataDir = (): Promise<string> => checkpointedFolder(dirs, signer);

const tamper = (dir: string, sql: string, ...params: unknown[]): void => {
  const db = new Database(join(dir, 'events.db'));
  db.prepare(sql).run(...params);
  db.close();
};

const tamperMany = (dir: string, statements: string[]): void => {
  const db = new Database(join(dir, 'events.db'));
  db.transaction(() => statements.forEach((s) => db.exec(s)))();
  db.close();
};

const audit = (dir: string) => auditDataDir(dir, signer);

describe('tamper detection over the SQLite event store', () => {
  it('finds nothing wrong in an untouched store and counts events not logged yet', async () => {
    const dir = await loggedDataDir();
    const store = openSqliteStoreInDir(dir);
    await appendEvents(store, 3, 12);
    await store.close();
    expect(await audit(dir)).toMatchObject({ ok: true, checkedEvents: 12, signedThrough: 10, unlogged: 3 });
  });

  it("reports an edited event's data at its position", async () => {
    const dir = await loggedDataDir();
    tamper(dir, `UPDATE events SET data = json_set(data, '$.label', 'forged') WHERE position = 5`);
    expect(await audit(dir)).toMatchObject({ ok: false, kind: 'edited', position: 5n, leafIndex: 4 });
  });

  it('reports edited metadata (the signed request) and a row that no longer parses', async () => {
    const dir = await loggedDataDir();
    tamper(dir, `UPDATE events SET metadata = json_set(metadata, '$.actor', 'someone-else') WHERE position = 11`);
    expect(await audit(dir)).toMatchObject({ ok: false, kind: 'edited', position: 11n });
    tamper(dir, `UPDATE events SET data = '{not json' WHERE position = 3`);
    expect(await audit(dir)).toMatchObject({ ok: false, kind: 'edited', position: 3n });
  });

  it('reports a deleted event at its position, in the middle and at the end', async () => {
    const dir = await loggedDataDir();
    tamper(dir, 'DELETE FROM events WHERE position = 12');
    expect(await audit(dir)).toMatchObject({ ok: false, kind: 'deleted', position: 12n });
    tamper(dir, 'DELETE FROM events WHERE position = 7');
    expect(await audit(dir)).toMatchObject({ ok: false, kind: 'deleted', position: 7n });
  });

  it('reports two swapped events at the first of their positions', async () => {
    const dir = await loggedDataDir();
    const columns = ['stream_id', 'revision', 'event_id', 'type', 'data', 'metadata'];
    tamperMany(dir, [
      'CREATE TEMP TABLE swap AS SELECT * FROM events WHERE position IN (4, 9)',
      // Park row 9 out of the way of the unique constraints, then exchange contents.
      "UPDATE events SET stream_id = 'parked', event_id = 'parked' WHERE position = 9",
      `UPDATE events SET ${columns.map((c) => `${c} = (SELECT ${c} FROM swap WHERE position = 9)`).join(', ')} WHERE position = 4`,
      `UPDATE events SET ${columns.map((c) => `${c} = (SELECT ${c} FROM swap WHERE position = 4)`).join(', ')} WHERE position = 9`,
    ]);
    expect(await audit(dir)).toMatchObject({ ok: false, kind: 'reordered', position: 4n });
  });

  it('reports an event inserted into the history at the position it took', async () => {
    const dir = await loggedDataDir();
    tamperMany(dir, [
      // Shift positions 6.. up by one (via a high offset, so the primary key never collides) and insert at 6.
      'UPDATE events SET position = position + 1000 WHERE position >= 6',
      'UPDATE events SET position = position - 999 WHERE position >= 1000',
      `INSERT INTO events (position, stream_id, revision, event_id, type, data, metadata)
       VALUES (6, 'credential-meter-9', 0, 'inserted-event', 'CredentialRevoked', '{}', '{"actor":"attacker"}')`,
    ]);
    expect(await audit(dir)).toMatchObject({ ok: false, kind: 'inserted', position: 6n });
  });

  it('reports an event inserted into a gap of the global order that the log skipped', async () => {
    const dir = dirs.make();
    const store = openSqliteStoreInDir(dir);
    await appendEvents(store, 5);
    await store.close();
    // Position 5 is removed before it is ever logged; AUTOINCREMENT never hands it out again: a legitimate gap.
    tamper(dir, 'DELETE FROM events WHERE position = 5');
    const reopened = openSqliteStoreInDir(dir);
    await appendEvents(reopened, 3, 5);
    const log = openTransparencyLogInDir(dir);
    const projection = new TransparencyProjection({ store: reopened, log, signer, origin: ORIGIN, now: () => new FakeClock().now(), checkpointEveryMs: 0 });
    await projection.catchUp();
    await projection.checkpoint();
    await reopened.close();
    log.close();
    expect(await audit(dir)).toMatchObject({ ok: true, checkedEvents: 7 });
    tamper(
      dir,
      `INSERT INTO events (position, stream_id, revision, event_id, type, data, metadata)
       VALUES (5, 'credential-meter-9', 0, 'inserted-event', 'CredentialRevoked', '{}', '{}')`,
    );
    expect(await audit(dir)).toMatchObject({ ok: false, kind: 'inserted', position: 5n });
  });

  it('catches a store and log file rewritten together, because the signed checkpoint no longer matches', async () => {
    const dir = await loggedDataDir();
    tamper(dir, `UPDATE events SET data = json_set(data, '$.label', 'forged') WHERE position = 2`);
    // The attacker recomputes the leaf too, but cannot re-sign the checkpoint without the log key.
    const events = [...readEventsDbInDir(dir)];
    const edited = events[1]!;
    if (!edited.ok) throw new Error('fixture: row 2 must parse');
    const logDb = new Database(join(dir, 'transparency.db'));
    logDb.prepare('UPDATE leaves SET leaf_hash = ? WHERE position = 2').run(eventLeafHash(edited.event));
    logDb.close();
    expect(await audit(dir)).toMatchObject({ ok: false, kind: 'log_mismatch' });
  });

  it('refuses a log whose latest checkpoint carries a forged signature', async () => {
    const dir = await loggedDataDir();
    const logDb = new Database(join(dir, 'transparency.db'));
    const note = logDb.prepare('SELECT note FROM checkpoints ORDER BY tree_size DESC LIMIT 1').pluck().get() as string;
    const forged = note.replace(/\n10\n/, '\n12\n');
    // The row's tree size as its (forged) note says: a row that disagrees with its note is refused before any key.
    logDb.prepare('UPDATE checkpoints SET note = ?, tree_size = 12').run(forged);
    logDb.close();
    expect(await audit(dir)).toMatchObject({ ok: false, kind: 'bad_checkpoint' });
  });
});
