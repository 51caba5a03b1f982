/**
 * Review 254: an entity stream read in pages (the entity replay, `readStreamInTurns`; the engine's full load,
 * `EntityCache.loadFull`) went on from the last revision read, and only a read from revision 0 was checked for
 * truncation. A 600-record stream another writer truncated before revision 550 after the first page was read with a
 * hole (revisions 498, 499, 550, 551 at the page break) and no error, where one read of it fails as truncated. Each
 * page must start at the revision asked for, or the read fails with the very error one read gives.
 */
import { describe, expect, it } from 'vitest';
import { EntityCache } from '../adapters/engine/entity-cache.ts';
import { isCredenceError } from '../domain/errors.ts';
import type { EventStore } from '../domain/ports/event-store.ts';
import { replayEntity } from '../projections/replay/index.ts';
import { standInTeardown } from './support/stand-in-teardown.ts';
import { streamTruncatedAfterItsFirstPage } from './support/stream-truncated-after-its-first-page.ts';

const failure = (promise: Promise<unknown>): Promise<unknown> => promise.then(() => undefined, (error: unknown) => error);

const RECORDS = 600;
const TRUNCATED_BEFORE = 550n;

describe('EventStoreDB: an entity stream truncated between two pages of its read', () => {
  const teardown = standInTeardown();

  /**
   * A stand-in whose node-meter-1 holds 600 fact claims (records every reader passes over), and a store on it whose
   * first read of that stream (from revision 0, the first page) is followed by another writer's truncation before 550.
   */
  const truncatedAfterTheFirstPage = () =>
    streamTruncatedAfterItsFirstPage(teardown, RECORDS, (log, streamId) => log.truncate(streamId, TRUNCATED_BEFORE));

  /** A truncation error's words past the revision it read from, which a page and a whole read share. */
  const whatWasFound = (error: unknown): string => (error as Error).message.replace(/the read from revision \d+ /, '');

  /** The error one read of the whole (truncated) stream gives. */
  const oneRead = async (store: EventStore, streamId: string) => {
    const error = await failure(store.readStream(streamId));
    expect(isCredenceError(error, 'protocol'), String(error)).toBe(true);
    expect((error as Error).message).toMatch(/found revision 550 first/);
    return error as Error;
  };

  it('fails the entity replay with the error one read gives, never judges the stream with a hole', async () => {
    const { store, truncating, streamId, pages } = await truncatedAfterTheFirstPage();
    const error = await failure(replayEntity(truncating, streamId));
    expect(pages.length, 'read in more than one page').toBeGreaterThan(1);
    expect(isCredenceError(error, 'protocol'), String(error)).toBe(true);
    expect(whatWasFound(error)).toBe(whatWasFound(await oneRead(store, streamId)));
    expect((error as Error).message).toContain(`the read from revision ${pages[0]!.at(-1)! + 1n} found revision 550 first`);
  });

  it('fails the engine\'s full load of the entity with the error one read gives, never rebuilds it with a hole', async () => {
    const { store, truncating, streamId, pages } = await truncatedAfterTheFirstPage();
    const error = await failure(new EntityCache(truncating, 1024 * 1024).loadFull('node', 'meter-1'));
    expect(pages.length, 'read in more than one page').toBeGreaterThan(1);
    expect(isCredenceError(error, 'protocol'), String(error)).toBe(true);
    expect(whatWasFound(error)).toBe(whatWasFound(await oneRead(store, streamId)));
  });
});
