import { isFactClaim } from './fact-claims.ts';
import type { EventStore } from './ports/event-store.ts';

/** Records read at once past a stream's first one while looking over its fact claims for a lifecycle event. */
const PAGE = 1_000;

/**
 * Whether the entity of `streamId` exists: its stream holds a record that is not a fact claim. On EventStoreDB a
 * decision that reads a fact not recorded yet (a registration naming its bootstrap credential, bootstrapNotYetRecorded)
 * claims that fact's stream at revision 0, and a stream holding only claims is an entity that does not exist
 * (docs/eventstoredb.md, "Decisions and their facts"): review 294, its timeline, state, evidence and dependents were
 * served as an entity's (200) where the embedded store, which writes no claims, said 404.
 *
 * One read of one record answers for nearly every stream (its first record is its first event); claims before it are
 * read past in pages, at most `maxRecords` records in all (the bound a whole-stream read of the caller already holds
 * to, limits.maxEntityRecords on the service). A stream whose first `maxRecords` records are all claims is taken to
 * exist: what it holds beyond is not read here, and the caller's own bound (422 entity_too_long) names its claims.
 */
export const entityExists = async (store: Pick<EventStore, 'readStream'>, streamId: string, maxRecords = Number.POSITIVE_INFINITY): Promise<boolean> => {
  let [read, fromRevision, pageSize] = [0, 0n, 1];
  for (;;) {
    const maxCount = Math.min(pageSize, maxRecords - read);
    if (maxCount <= 0) return true;
    const page = await store.readStream(streamId, { fromRevision, maxCount });
    if (page.some((record) => !isFactClaim(record))) return true;
    if (page.length < maxCount) return false;
    read += page.length;
    fromRevision = page.at(-1)!.revision + 1n;
    pageSize = PAGE;
  }
};
