import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { openTransparencyLogInDir } from '../adapters/driven/transparency/index.ts';
import { run as verifyCommand } from '../bin/commands/verify.ts';
import { formatVerifierKey } from '../domain/transparency/index.ts';
import { TransparencyLogOfAnotherLog, TransparencyProjection } from '../projections/transparency/index.ts';
import { capture } from './support/cli.ts';
import { copyEventStore } from './support/restored-folder.ts';
import { temporaryFolders } from './support/temp-dirs.ts';
import { ORIGIN, appendEvents, fixedSigner, keyOf } from './transparency-fixtures.ts';

/*
 * The log refuses to go on when its newest leaf is not the event the store holds at that position. A restart used to
 * check that leaf alone, from scratch: a store holding it byte for byte while earlier events differ (a restore with
 * the clock set back, a crafted events.db) passed, and the log signed on over a history it no longer matched. The
 * refusal is kept in transparency.db and holds until every leaf is in the store again.
 */

const folder = temporaryFolders('credence-tlog-refusal-');
const signer = fixedSigner();
const REFUSED_AT = new Date('2026-03-01T10:00:00.000Z');

interface Opened {
  readonly projection: TransparencyProjection;
  readonly log: ReturnType<typeof openTransparencyLogInDir>;
  readonly store: ReturnType<typeof openSqliteStoreInDir>;
  close(): Promise<void>;
}

/** One process's log over the folder's files. */
const open = (dir: string, now = REFUSED_AT): Opened => {
  const store = openSqliteStoreInDir(dir);
  const log = openTransparencyLogInDir(dir);
  const projection = new TransparencyProjection({ store, log, signer, origin: ORIGIN, now: () => now, checkpointEveryMs: 0 });
  return { projection, log, store, close: async () => (log.close(), await store.close()) };
};

const editEvent = (dir: string, position: number): void => {
  const db = new Database(join(dir, 'events.db'));
  db.prepare(`UPDATE events SET data = json_set(data, '$.label', 'forged') WHERE position = ?`).run(position);
  db.close();
};

/** Every row of the log's leaves and checkpoints, hashed: what must not move while the log refuses. */
const logDigest = (dir: string): string => {
  const db = new Database(join(dir, 'transparency.db'), { readonly: true });
  const rows = JSON.stringify([db.prepare('SELECT * FROM leaves ORDER BY leaf_index').all(), db.prepare('SELECT * FROM checkpoints').all()], (_, v: unknown) =>
    typeof v === 'bigint' ? v.toString() : Buffer.isBuffer(v) ? v.toString('hex') : v,
  );
  db.close();
  return createHash('sha256').update(rows).digest('hex');
};

/**
 * A folder of 6 logged and signed events, a backup of its events.db (`good`), and a process that refused: the store's
 * newest event, the log's newest leaf, was edited. That process is closed.
 */
const refusedOnce = async (): Promise<{ dir: string; good: string }> => {
  const dir = folder();
  const good = folder();
  const first = open(dir);
  await appendEvents(first.store, 6);
  await first.projection.catchUp();
  await first.projection.checkpoint();
  await first.close();
  copyEventStore(dir, good);
  editEvent(dir, 6);
  const refusing = open(dir);
  await expect(refusing.projection.catchUp()).rejects.toThrow(/transparency: the event at position 6, which it handled last, is [0-9a-f-]+ in the store with other content/);
  await refusing.close();
  return { dir, good };
};

/** The store of `good` put back, but with an earlier event than the newest leaf's edited: the newest matches. */
const newestMatchesEarlierDiffers = (dir: string, good: string): void => {
  copyEventStore(good, dir);
  editEvent(dir, 3);
};

describe('the transparency log refusal survives a restart', () => {
  it('still refuses after reopening over a store whose newest logged event matches but an earlier one differs', async () => {
    const { dir, good } = await refusedOnce();
    newestMatchesEarlierDiffers(dir, good);
    const again = open(dir, new Date('2026-03-02T00:00:00.000Z'));
    try {
      const refused = await again.projection.catchUp().catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(TransparencyLogOfAnotherLog);
      expect(refused).toMatchObject({ code: 'transparency_log_of_another_log' });
      expect((refused as Error).message).toMatch(
        /refused earlier and kept in transparency\.db: at 2026-03-01T10:00:00\.000Z the store held an event of leaf hash [0-9a-f]{64} at position 6, where leaf 5 of the log has leaf hash [0-9a-f]{64}; still, the store holds an event of leaf hash [0-9a-f]{64} at position 3, where leaf 2/,
      );
      expect(again.log.keptRefusal()).toMatchObject({ position: 6n, leafIndex: 5, refusedAt: REFUSED_AT.toISOString() });
    } finally {
      await again.close();
    }
  });

  it('writes nothing into the leaves or checkpoints of transparency.db while refusing, however it is asked to log', async () => {
    const { dir, good } = await refusedOnce();
    newestMatchesEarlierDiffers(dir, good);
    const before = logDigest(dir);
    const again = open(dir);
    try {
      await appendEvents(again.store, 2, 6);
      await expect(again.projection.catchUp()).rejects.toBeInstanceOf(TransparencyLogOfAnotherLog);
      await expect(again.projection.start()).rejects.toBeInstanceOf(TransparencyLogOfAnotherLog);
      expect(() => again.projection.ingest([])).toThrow(TransparencyLogOfAnotherLog);
      expect(again.log.size()).toBe(6);
    } finally {
      await again.close();
    }
    expect(logDigest(dir)).toBe(before);
  });

  it('is lifted once the store holds every logged event again, and the log signs on', async () => {
    const { dir, good } = await refusedOnce();
    copyEventStore(good, dir);
    const restored = open(dir);
    try {
      await appendEvents(restored.store, 2, 6);
      expect(await restored.projection.catchUp()).toBe(2);
      expect(restored.projection.clearedRefusal).toMatchObject({ position: 6n, leafIndex: 5, refusedAt: REFUSED_AT.toISOString() });
      expect(restored.log.keptRefusal()).toBeUndefined();
      expect((await restored.projection.checkpoint()).treeSize).toBe(8);
    } finally {
      await restored.close();
    }
    // Lifted in the file: the next process neither refuses nor has anything to lift.
    const next = open(dir);
    try {
      expect(await next.projection.catchUp()).toBe(0);
      expect(next.projection.clearedRefusal).toBeUndefined();
    } finally {
      await next.close();
    }
  });

  it('is reported by credence verify --data, beside the audit finding, and as a warning once the store matches again', async () => {
    const { dir, good } = await refusedOnce();
    const key = formatVerifierKey(keyOf(signer));
    const tampered = capture();
    expect(await verifyCommand(['--data', dir, '--key', key, '--json'], tampered.io)).toBe(1);
    expect(tampered.err.join('\n')).toMatch(/REFUSED: the transparency log stopped logging and signing: at 2026-03-01T10:00:00\.000Z the store held an event of leaf hash [0-9a-f]{64} at position 6, where leaf 5/);
    expect(tampered.err.join('\n')).toMatch(/TAMPERED: edited at position 6/);
    expect(JSON.parse(tampered.out.join('\n'))).toMatchObject({
      ok: false,
      refusal: { refusedAt: REFUSED_AT.toISOString(), leafIndex: 5, position: '6', expectedLeafHash: expect.stringMatching(/^[0-9a-f]{64}$/) },
    });

    copyEventStore(good, dir);
    const matching = capture();
    expect(await verifyCommand(['--data', dir, '--key', key], matching.io)).toBe(0);
    expect(matching.err.join('\n')).toMatch(/warning: the transparency log stopped logging and signing: .*; events\.db now holds every logged event, so the service lifts the refusal at its next start/);
    expect(matching.out.join('\n')).toMatch(/^ok: 6 stored events match the transparency log/);
  });

  it('opens a log file of schema 2, which kept no refusal, and migrates it to schema 3', async () => {
    const dir = folder();
    const first = open(dir);
    await appendEvents(first.store, 2);
    await first.projection.catchUp();
    await first.close();
    const db = new Database(join(dir, 'transparency.db'));
    db.exec('DROP TABLE refusal; PRAGMA user_version = 2;');
    db.close();
    const reopened = open(dir);
    try {
      expect(reopened.log.keptRefusal()).toBeUndefined();
      expect(await reopened.projection.catchUp()).toBe(0);
    } finally {
      await reopened.close();
    }
    const migrated = new Database(join(dir, 'transparency.db'), { readonly: true });
    expect(migrated.pragma('user_version', { simple: true })).toBe(3);
    migrated.close();
  });
});
