import { protocolError } from '../errors.ts';
import { parseStreamId } from '../streams.ts';
import type { EventStore, RecordedEvent } from './event-store.ts';

/**
 * A read of an entity's stream must start at the revision asked for: one that starts later was truncated by another
 * writer of the cluster (`$tb` or a max count in its metadata; Credence sets neither), and the entity rebuilt from
 * partway through its history would be refused as broken history it is not (review 179), or, read in pages, rebuilt
 * over a hole with no error at all (review 254). Damage, said as a malformed record of an entity stream is (codec.ts).
 * Truncation only ever removes a stream's first revisions, so the stream starts at `first` either way. Other streams
 * (another application's) are read as the server keeps them; the fleet replay reads $all and judges no gaps.
 */
export const assertEntityStreamReadFrom = (streamId: string, fromRevision: bigint, first: bigint | undefined): void => {
  if (first === undefined || first === fromRevision || parseStreamId(streamId) === undefined) return;
  // Worded by the revision asked for (review 258: "not 0" for a later page), and by the store it can come from.
  throw truncated(streamId, fromRevision, `revision ${first} first`);
};

/**
 * A page after the first that came back empty is the stream's end only if the revision read before it is still there
 * (`stillThere`: the first revision a read from it found): a stream truncated at or past its end between two pages
 * (`$tb` moved past its last revision, its records then scavenged) answers the next page with nothing too, and the
 * pages read before it are a history the store no longer holds, where one read of it finds it empty (review 254/258's
 * follow-up). Failed as a truncation between two pages is, since that is what it is.
 */
export const assertEntityStreamEndedAt = (streamId: string, lastRead: bigint, stillThere: bigint | undefined): void => {
  if (stillThere === lastRead || parseStreamId(streamId) === undefined) return;
  const now = stillThere === undefined ? 'the stream now holds none' : `the stream now starts at revision ${stillThere}`;
  throw truncated(streamId, lastRead + 1n, `no revision, and revision ${lastRead}, read before it, is gone (${now})`);
};

const truncated = (streamId: string, fromRevision: bigint, found: string) =>
  protocolError(
    `read of ${streamId}`,
    `the read from revision ${fromRevision} found ${found}, so the entity's history is incomplete: on EventStoreDB a ` +
      `writer of the cluster truncated the stream ($tb or a max count in its stream metadata) or deleted it; on the embedded store, the file is damaged`,
  );

/**
 * Every record of `streamId`, as `store.readStream(streamId)` gives them, a page of `pageSize` at a time, awaiting
 * `betweenPages` between two pages (the caller, on the I/O side, brings the turn of the event loop: review 242's
 * follow-up). Pages go on from the last revision read, not from a count: a record appended meanwhile is at the end, as
 * if the stream were read a moment later. Each page must start where it was asked to (`assertEntityStreamReadFrom`): a
 * stream truncated between two pages fails as one read of it would, never leaves a hole (review 254). An empty page
 * after a full one costs one more read of one record, to tell the stream's end from its truncation past what was read
 * (`assertEntityStreamEndedAt`). A store whose revisions are contiguous and never truncated (SQLite) always passes.
 */
export async function* entityStreamPages(
  store: Pick<EventStore, 'readStream'>,
  streamId: string,
  pageSize: number,
  betweenPages: () => Promise<unknown>,
): AsyncGenerator<readonly RecordedEvent[], void, undefined> {
  let fromRevision = 0n;
  for (;;) {
    const page = await store.readStream(streamId, { fromRevision, maxCount: pageSize });
    assertEntityStreamReadFrom(streamId, fromRevision, page[0]?.revision);
    if (page.length === 0 && fromRevision > 0n && parseStreamId(streamId) !== undefined) {
      const [stillThere] = await store.readStream(streamId, { fromRevision: fromRevision - 1n, maxCount: 1 });
      assertEntityStreamEndedAt(streamId, fromRevision - 1n, stillThere?.revision);
    }
    yield page;
    if (page.length < pageSize) return;
    fromRevision = page.at(-1)!.revision + 1n;
    await betweenPages();
  }
}
