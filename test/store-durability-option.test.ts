import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openStore, parseStoreConnectionString, SqliteEventStore } from '../adapters/driven/store/index.ts';
import { loadServiceConfig } from '../adapters/http/config.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { T0 } from './support/fleet.ts';

/** Issue 15 item 1: the `durability` setting, from the connection string, the library options and the service config. */
const root = mkdtempSync(join(tmpdir(), 'credence-durability-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const synchronousOf = (store: unknown): number => {
  expect(store).toBeInstanceOf(SqliteEventStore);
  return Number((store as { db: Database.Database }).db.pragma('synchronous', { simple: true }));
};

describe('the durability setting', () => {
  it('is read from the end of an embedded store connection string; any other ? is refused (review 236)', () => {
    expect(parseStoreConnectionString('sqlite:./data?durability=normal')).toEqual({ kind: 'sqlite', dir: './data', durability: 'normal' });
    expect(parseStoreConnectionString('sqlite::memory:?durability=full')).toEqual({ kind: 'sqlite-memory', durability: 'full' });
    expect(() => parseStoreConnectionString('sqlite:./odd?name')).toThrow(/must not hold \?/);
    expect(parseStoreConnectionString('sqlite:./data')).toEqual({ kind: 'sqlite', dir: './data' });
    let error: unknown;
    try {
      parseStoreConnectionString('sqlite:./data?durability=off');
    } catch (e) {
      error = e;
    }
    expect(isCredenceError(error, 'validation')).toBe(true);
    expect(String((error as Error).message)).toMatch(/durability must be one of full, normal/);
  });

  it('opens full by default and normal when asked; a string and an option that disagree are refused', async () => {
    const durable = openStore(`sqlite:${join(root, 'a')}`);
    const normal = openStore(`sqlite:${join(root, 'b')}?durability=normal`);
    const byOption = openStore(`sqlite:${join(root, 'c')}`, { durability: 'normal' });
    expect([synchronousOf(durable), synchronousOf(normal), synchronousOf(byOption)]).toEqual([2, 1, 1]);
    for (const store of [durable, normal, byOption]) await store.close();
    expect(() => openStore(`sqlite:${join(root, 'd')}?durability=normal`, { durability: 'full' })).toThrow(/connection string says normal, the durability setting full/);
  });

  it('openCredence passes it to the embedded store it opens', async () => {
    const credence = openCredence({ location: { dir: join(root, 'e') }, clock: new FakeClock(T0), durability: 'normal', entityCacheMaxBytes: 1024 });
    expect(synchronousOf(credence.store)).toBe(1);
    expect(credence.engine.cacheStats().maxBytes).toBe(1024);
    await credence.close();
    const fallback = openCredence({ location: { dir: join(root, 'f') }, clock: new FakeClock(T0) });
    expect(synchronousOf(fallback.store)).toBe(2);
    await fallback.close();
  });

  it('the service reads CREDENCE_DURABILITY and CREDENCE_ENTITY_CACHE_MIB, and names a bad value', () => {
    expect(loadServiceConfig({ env: {} })).toMatchObject({ entityCacheMiB: 64 });
    expect(loadServiceConfig({ env: {} }).durability).toBeUndefined();
    expect(loadServiceConfig({ env: { CREDENCE_DURABILITY: 'normal', CREDENCE_ENTITY_CACHE_MIB: '16' } })).toMatchObject({ durability: 'normal', entityCacheMiB: 16 });
    let error: unknown;
    try {
      loadServiceConfig({ env: { CREDENCE_DURABILITY: 'sometimes' } });
    } catch (e) {
      error = e;
    }
    expect(isCredenceError(error, 'validation')).toBe(true);
    if (isCredenceError(error) && error.problem.code === 'validation') expect(error.problem.issues[0]?.path).toBe('env CREDENCE_DURABILITY');
  });
});
