/**
 * Review 254: an entity stream read in pages (the entity replay, `readStreamInTurns`; the engine's full load,
 * `EntityCache.loadFull`) went on from the last revision read, and only a read from revision 0 was checked for
 * truncation. A 600-record stream another writer truncated before revision 550 after the first page was read with a
 * hole (revisions 498, 499, 550, 551 at the page break) and no error, where one read of it fails as truncated. Each
 * page must start at the revision asked for, or the read fails with the very error one read gives.
 */
import { describe, expect, it } from 'vitest';
import { openEventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { EntityCache } from '../adapters/engine/entity-cache.ts';
import { isCredenceError } from '../domain/errors.ts';
import { FACT_CLAIM_TYPE } from '../domain/fact-claims.ts';
import type { EventStore } from '../domain/ports/event-store.ts';
import { replayEntity } from '../projections/replay/index.ts';
import { standInTeardown } from './support/stand-in-teardown.ts';

const failure = (promise: Promise<unknown>): Promise<unknown> => promise.then(() => undefined, (error: unknown) => error);

const RECORDS = 600;
const TRUNCATED_BEFORE = 550n;

describe('EventStoreDB: an entity stream truncated between two pages of its read', () => {
  const { startStandIn, hold } = standInTeardown();

  /**
   * A stand-in whose node-meter-1 holds 600 fact claims (records every reader passes over), and a store on it whose
   * first read of that stream (from revision 0, the first page) is followed by another writer's truncation before 550.
   */
  const truncatedAfterTheFirstPage = async () => {
    const standIn = await startStandIn();
    const store = hold(openEventStoreDbStore(standIn.connectionString));
    const streamId = 'node-meter-1';
    const claims = Array.from({ length: RECORDS }, (_, i) => ({
      id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      type: FACT_CLAIM_TYPE,
      contentType: 'application/json',
      data: Buffer.from(JSON.stringify({ claimant: 'credential-cred-1', commandId: `cmd-${i}` })),
      customMetadata: Buffer.from('{}'),
    }));
    standIn.log.append(streamId, { kind: 'any' }, claims);
    const pages: bigint[][] = [];
    const truncating: EventStore = new Proxy(store, {
      get(target, name) {
        if (name === 'readStream') {
          return async (...args: Parameters<EventStore['readStream']>) => {
            const page = await target.readStream(...args);
            pages.push(page.map((r) => r.revision));
            if (args[0] === streamId && (args[1]?.fromRevision ?? 0n) === 0n) standIn.log.truncate(streamId, TRUNCATED_BEFORE);
            return page;
          };
        }
        const value: unknown = Reflect.get(target, name, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    return { store, truncating, streamId, pages };
  };

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
