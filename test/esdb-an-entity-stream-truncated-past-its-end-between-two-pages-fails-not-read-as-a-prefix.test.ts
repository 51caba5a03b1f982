/**
 * Review 254/258's follow-up: a paged read of an entity stream checked that each page starts at the revision asked
 * for, but a stream another writer truncated at or past its end between two pages ($tb moved past the last revision,
 * or the records then scavenged) answers the next page with nothing, and the read returned the first pages as if the
 * stream ended there: a prefix of a history the store no longer holds, where one read of the stream now finds it
 * empty. An empty page after the first must be the stream's end, not its truncation: the revision read before it must
 * still be there, or the read fails with the error a truncation between two pages gives.
 */
import { describe, expect, it } from 'vitest';
import { EntityCache } from '../adapters/engine/entity-cache.ts';
import { isCredenceError } from '../domain/errors.ts';
import { replayEntity } from '../projections/replay/index.ts';
import { standInTeardown } from './support/stand-in-teardown.ts';
import { streamTruncatedAfterItsFirstPage, type Truncation } from './support/stream-truncated-after-its-first-page.ts';

const failure = (promise: Promise<unknown>): Promise<unknown> => promise.then(() => undefined, (error: unknown) => error);

// A multiple of both page sizes (the replay's 500, the full load's 250): the page after the last full one is empty.
const RECORDS = 500;

const truncatedAtItsEnd: Truncation = (log, streamId) => log.truncate(streamId, BigInt(RECORDS));
const truncatedPastItsEnd: Truncation = (log, streamId) => log.truncate(streamId, BigInt(RECORDS) + 200n);
const truncatedAndScavenged: Truncation = (log, streamId) => {
  log.truncate(streamId, BigInt(RECORDS));
  log.scavenge(streamId);
};
/** Nothing happens to it: the empty page is the stream's end. */
const untouched: Truncation = () => undefined;

describe('EventStoreDB: an entity stream truncated at or past its end between two pages of its read', () => {
  const teardown = standInTeardown();

  /** A stand-in whose node-meter-1 holds 500 fact claims, and a store on it that lets `truncation` happen after the first page. */
  const afterTheFirstPage = (truncation: Truncation) => streamTruncatedAfterItsFirstPage(teardown, RECORDS, truncation);

  /** The words a truncation between two pages says past what it found, which this failure must say too. */
  const TRUNCATED = /so the entity's history is incomplete: on EventStoreDB a writer of the cluster truncated the stream/;

  const truncations = { 'at its end': truncatedAtItsEnd, 'past its end': truncatedPastItsEnd, 'at its end, then scavenged': truncatedAndScavenged };

  for (const [how, truncation] of Object.entries(truncations)) {
    it(`fails the entity replay of a stream truncated ${how}, never judges the first page as the whole stream`, async () => {
      const { store, truncating, streamId, pages } = await afterTheFirstPage(truncation);
      const error = await failure(replayEntity(truncating, streamId));
      expect(pages[0]?.length, 'the first page was read whole').toBe(RECORDS);
      expect(pages[1], 'the next page came back empty').toEqual([]);
      expect(isCredenceError(error, 'protocol'), String(error)).toBe(true);
      expect((error as Error).message).toMatch(TRUNCATED);
      expect((error as Error).message).toContain(`the read from revision ${RECORDS} found no revision`);
      expect((error as Error).message).toContain(`revision ${RECORDS - 1}, read before it, is gone`);
      // One read of the stream now finds nothing of what the first page held.
      expect(await store.readStream(streamId)).toEqual([]);
    });

    it(`fails the engine's full load of a stream truncated ${how}, never rebuilds the entity from its first pages`, async () => {
      const { truncating, pages } = await afterTheFirstPage(truncation);
      const error = await failure(new EntityCache(truncating, 1024 * 1024).loadFull('node', 'meter-1'));
      expect(pages[1], 'the next page came back empty').toEqual([]);
      expect(isCredenceError(error, 'protocol'), String(error)).toBe(true);
      expect((error as Error).message).toMatch(TRUNCATED);
      expect((error as Error).message).toContain(`the read from revision 250 found no revision`);
      expect((error as Error).message).toContain(`revision 249, read before it, is gone`);
    });
  }

  it('reads a stream that ends on a full page whole, its empty last page its end', async () => {
    const { truncating, streamId, pages } = await afterTheFirstPage(untouched);
    await replayEntity(truncating, streamId);
    await new EntityCache(truncating, 1024 * 1024).loadFull('node', 'meter-1');
    const read = new Set(pages.flat());
    expect(Array.from({ length: RECORDS }, (_, i) => read.has(BigInt(i))).every(Boolean), 'every revision read').toBe(true);
  });

  it('reads a stream truncated below the last revision read between two pages as before: no record read is missing', async () => {
    const { truncating, streamId } = await afterTheFirstPage((log, id) => log.truncate(id, BigInt(RECORDS - 1)));
    // The replay's one full page held revisions 0 to 499; 499 is still there, so its empty next page is the end.
    expect((await replayEntity(truncating, streamId)).streamId).toBe(streamId);
  });
});
