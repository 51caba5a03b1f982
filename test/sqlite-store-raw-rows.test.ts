import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { recordedEventOfRaw, toRecordedEvent } from '../adapters/driven/store/sqlite/rows.ts';
import { isCredenceError } from '../domain/errors.ts';
import { ExpectedRevision, type EventStore } from '../domain/ports/index.ts';
import { collect, newEvent } from './store-conformance/helpers.ts';

/**
 * $all is read in raw mode (rows as arrays, issue 15 item 4): a well-formed row becomes the same RecordedEvent the
 * row schema gives, and a damaged row is refused with the same typed error, naming the position, column and rule.
 */
const ROW = [7n, 'node-1', 0n, 'e-1', 'NodeRegistered', '{"nodeId":"1"}', '{"schemaVersion":1}'] as const;
const COLUMNS = ['position', 'stream_id', 'revision', 'event_id', 'type', 'data', 'metadata'] as const;
const asObject = (row: readonly unknown[]) => Object.fromEntries(COLUMNS.map((c, i) => [c, row[i]]));
const errorOf = (read: () => unknown): unknown => {
  try {
    read();
  } catch (error) {
    return error;
  }
  throw new Error('expected the row to be refused');
};

describe('raw rows of the embedded store', () => {
  it('a well-formed row reads exactly as the row schema reads it', () => {
    expect(recordedEventOfRaw(ROW)).toEqual(toRecordedEvent(asObject(ROW)));
    expect(recordedEventOfRaw(ROW)).toEqual({
      id: 'e-1', streamId: 'node-1', revision: 0n, position: 7n, type: 'NodeRegistered', data: { nodeId: '1' }, metadata: { schemaVersion: 1 },
    });
  });

  const damaged: [string, number, unknown][] = [
    ['position not positive', 0, 0n],
    ['position not an integer', 0, 7],
    ['empty stream id', 1, ''],
    ['stream id as bytes', 1, Buffer.from('node-1')],
    ['negative revision', 2, -1n],
    ['empty event id', 3, ''],
    ['type missing', 4, null],
    ['data not JSON', 5, '[not json'],
    ['data a JSON array', 5, '[1,2]'],
    ['data JSON null', 5, 'null'],
    ['metadata not JSON', 6, '{'],
    ['metadata a JSON string', 6, '"x"'],
  ];
  it.each(damaged)('%s: refused with the row schema error', (_name, column, value) => {
    const row = [...ROW] as unknown[];
    row[column] = value;
    const raw = errorOf(() => recordedEventOfRaw(row));
    const viaSchema = errorOf(() => toRecordedEvent(asObject(row)));
    expect(isCredenceError(raw, 'validation')).toBe(true);
    expect((raw as Error).message).toBe((viaSchema as Error).message);
    expect((raw as Error).message).toContain(COLUMNS[column]);
  });

  describe('through readAll', () => {
    let dir: string;
    let store: EventStore;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'credence-raw-rows-'));
      store = openSqliteStore({ file: join(dir, 'events.db') });
    });
    afterEach(async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('reads the same records as readStream, and reports a damaged row by its position', async () => {
      const any = { expectedRevision: ExpectedRevision.any };
      await store.appendToStream('node-1', [newEvent('Enrolled', { ok: true }), newEvent('Revoked')], any);
      const damagedAt = await store.appendToStream('node-2', [newEvent('Enrolled')], any);
      expect(await collect(store.readAll({ maxCount: 2 }))).toEqual(await store.readStream('node-1'));

      const raw = new Database(join(dir, 'events.db'));
      raw.prepare("UPDATE events SET metadata = '[1]' WHERE position = ?").run(damagedAt.position);
      raw.close();
      const error = await collect(store.readAll()).catch((e: unknown) => e);
      expect(isCredenceError(error, 'validation')).toBe(true);
      expect((error as Error).message).toContain(`stored event at position ${damagedAt.position}`);
      expect((error as Error).message).toContain('metadata: is not a JSON object');
    });
  });
});
