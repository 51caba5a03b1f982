import { unauthorised } from '../../../domain/errors.ts';
import type { EntityKind } from '../../../domain/streams.ts';
import { entityRow, listEntities, type EntityRow } from '../../../projections/entities/index.ts';
import type { Principal, ServiceContext } from '../context.ts';
import { refusedForTheRole } from '../problems.ts';
import { pseudonymsShownTo, type ResolvedStreams, type Teller } from './pseudonym-reads.ts';

/**
 * Which pseudonyms a listing shows (review 281): only those an auditor recorded a resolution of, to that auditor. A
 * list of pseudonyms read before and after a rotation (on demand, or by a registration) gained exactly one: the
 * rotated node's, named without any resolution (SER-025). So `kind=pseudonym` is refused to every other role, and
 * their listing of every kind leaves the pseudonyms out.
 */
export const refusePseudonymListing = (principal: Principal | undefined): void => {
  if (principal?.role === 'auditor') return;
  // Refused, not an empty page: an empty page says "no pseudonym exists" (as a misspelt state's did, review 144); the
  // pseudonym routes refuse what names a pseudonym's node the same way (403 saying what it takes). For the role, so
  // told `insufficient_scope` as a route the role may not call is (review 367).
  throw refusedForTheRole(
    unauthorised(
      principal?.subject ?? 'anonymous',
      "the list of pseudonyms is for an auditor, of the pseudonyms it resolved (SER-025): listed before and after a node's rotation, it names the node's new pseudonym. " +
        'An auditor resolves one (POST /v1/pseudonyms/resolutions, recorded; credence pseudonym resolve) and lists it; the number of pseudonyms is in GET /v1/entities/counts',
    ),
  );
};

/** Past every `pseudonym-…` stream id and before every later kind's: '.' follows '-' and no stream id is `pseudonym.`. */
const PAST_THE_PSEUDONYMS = 'pseudonym.';

/**
 * Up to `limit` rows after `after` that `principal` is shown (refusePseudonymListing), in stream-id order. Every
 * pseudonym's stream id sorts between the kinds before and after it, so the rows are walked as they are up to the
 * first pseudonym, and past the last: another role's listing skips the pseudonyms' range whole; an auditor's reads
 * in it only the pseudonyms it resolved, from the directory (review 282: asked of every pseudonym past the cursor,
 * one by one, a page cost a second at 100,000 pseudonyms), each row as the walk would have read it (and kept only in
 * the state asked for). Without a directory that can say (no pseudonym key, or not there in time) it asks of each
 * pseudonym in turn, as every read of one does. The page ends at a row shown, so its cursor names no pseudonym left
 * out.
 */
export const listShown = async (
  context: ServiceContext,
  principal: Principal | undefined,
  query: { readonly kind?: EntityKind; readonly state?: string; readonly after?: string; readonly limit: number },
  /** Rows read per query while the listing passes over pseudonyms it does not show (entities.ts). */
  scanChunk: number,
): Promise<EntityRow[]> => {
  const shown: EntityRow[] = [];
  let told: Teller | undefined;
  let after = query.after;
  for (;;) {
    // Of the pseudonyms alone, one row says whether any follows `after`: the page's rows are then the resolved ones.
    const walked = query.kind === 'pseudonym' ? 1 : query.limit - shown.length;
    const asked = told === undefined ? walked : Math.max(query.limit - shown.length, scanChunk);
    const rows = listEntities(context.credence.readModels, {
      ...(query.kind !== undefined ? { kind: query.kind } : {}),
      ...(query.state !== undefined ? { state: query.state } : {}),
      ...(after !== undefined ? { after } : {}),
      limit: asked,
    });
    let skipped = false;
    for (const row of rows) {
      if (row.kind === 'pseudonym' && told === undefined) {
        // The first pseudonym past `after`: the range from here is the auditor's resolutions, or none.
        skipped = true;
        const shows = await pseudonymsShownTo(context, principal);
        if ('told' in shows) {
          // Read again from `after`, asking of each pseudonym.
          told = shows.told;
          break;
        }
        if (await resolvedRows(context, shows.resolved, query, after, shown)) return shown;
        after = PAST_THE_PSEUDONYMS;
        break;
      }
      after = row.streamId;
      if (row.kind !== 'pseudonym' || (await told!(row.streamId))) shown.push(row);
      if (shown.length === query.limit) return shown;
    }
    if (!skipped && rows.length < asked) return shown;
    // Many pseudonyms passed over: let other requests in before the next chunk.
    if (told !== undefined) await new Promise((resolve) => setImmediate(resolve));
  }
};

/**
 * Adds to `shown` the rows of the pseudonyms `resolved` names after `after`, in stream-id order, until the page is
 * full (true) or none is left (false). A pseudonym the entities read model has no row of yet, or a row in another
 * state than `query.state`, is passed over, as the walk of the rows would.
 */
const resolvedRows = async (
  context: ServiceContext,
  resolved: ResolvedStreams,
  query: { readonly state?: string; readonly limit: number },
  after: string | undefined,
  shown: EntityRow[],
): Promise<boolean> => {
  let from = after;
  for (;;) {
    const asked = query.limit - shown.length;
    const streamIds = resolved(from, asked);
    for (const streamId of streamIds) {
      from = streamId;
      const row = entityRow(context.credence.readModels, streamId);
      if (row === undefined || (query.state !== undefined && row.state !== query.state)) continue;
      shown.push(row);
      if (shown.length === query.limit) return true;
    }
    if (streamIds.length < asked) return false;
    // Many of its pseudonyms in another state: let other requests in before the next chunk.
    await new Promise((resolve) => setImmediate(resolve));
  }
};
