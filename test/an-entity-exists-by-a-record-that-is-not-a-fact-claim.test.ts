import { describe, expect, it } from 'vitest';
import { entityExists } from '../domain/entity-exists.ts';
import { FACT_CLAIM_TYPE } from '../domain/fact-claims.ts';
import type { EventStore, ReadStreamOptions, RecordedEvent } from '../domain/ports/event-store.ts';

/*
 * Review 294: a stream holding only fact claims (EventStoreDB) is an entity that does not exist. entityExists looks
 * past the claims for a lifecycle event, in pages, reading no more than the bound it is given.
 */

/** A stream of `claims` fact claims, then `events` lifecycle events; counts the records each read returned. */
const streamOf = (claims: number, events: number) => {
  const records: RecordedEvent[] = Array.from({ length: claims + events }, (_, i) => ({
    id: `id-${i}`,
    streamId: 'credential-boot-1',
    revision: BigInt(i),
    position: BigInt(i + 1),
    type: i < claims ? FACT_CLAIM_TYPE : 'CredentialIssued',
    data: {},
    metadata: {},
  }));
  const read = { records: 0 };
  const store: Pick<EventStore, 'readStream'> = {
    readStream: async (_streamId: string, options?: ReadStreamOptions) => {
      const from = Number(options?.fromRevision ?? 0n);
      const page = records.slice(from, options?.maxCount === undefined ? undefined : from + options.maxCount);
      read.records += page.length;
      return page;
    },
  };
  return { store, read };
};

describe('an entity exists by a record of its stream that is not a fact claim', () => {
  it.each([
    ['no record', 0, 0, false],
    ['only one claim', 1, 0, false],
    ['only claims, more than a page', 2_500, 0, false],
    ['an event first', 0, 1, true],
    ['an event after a claim', 1, 1, true],
    ['an event after more than a page of claims', 2_500, 1, true],
  ])('%s', async (_name, claims, events, exists) => {
    expect(await entityExists(streamOf(claims, events).store, 'credential-boot-1')).toBe(exists);
  });

  it('reads one record of a stream whose first record is an event', async () => {
    const { store, read } = streamOf(0, 50);
    expect(await entityExists(store, 'credential-boot-1')).toBe(true);
    expect(read.records).toBe(1);
  });

  it('reads no more than its bound, and takes a stream of claims past it to exist (the caller bounds it)', async () => {
    const { store, read } = streamOf(5_000, 1);
    expect(await entityExists(store, 'credential-boot-1', 1_500)).toBe(true);
    expect(read.records).toBe(1_500);
    // Within the bound a stream of claims alone is no entity.
    expect(await entityExists(streamOf(1_499, 0).store, 'credential-boot-1', 1_500)).toBe(false);
  });
});
