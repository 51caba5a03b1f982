import { z } from 'zod';
import { ApiError, entityPath } from './api.ts';
import type { Timeline, TimelineEntry } from './schemas.ts';

/**
 * An entity's timeline read in pages (GET /v1/entities/{kind}/{id}/timeline?limit=&after=, adapters/http/routes/
 * entities.ts), never whole: the server refuses a whole timeline of more than `limits.maxEntityEvents` events (422
 * `entity_too_long`), and one page at a time keeps an entity of a long history as quick to open as a short one.
 */

/** Entries per request: the server allows up to 500; a hundred rows is what a person reads before asking for more. */
export const TIMELINE_PAGE = 100;

/** What is shown of a timeline: its entries in stream order, and the `after` of the next page while more follow. */
export interface TimelinePages {
  readonly entries: readonly TimelineEntry[];
  readonly nextAfter?: string;
}

export const NO_PAGES: TimelinePages = { entries: [] };

/** The page of `TIMELINE_PAGE` entries after stream revision `after` (from the first event without it). */
export const timelinePagePath = (kind: string, id: string, after?: string): string =>
  `${entityPath(kind, id)}/timeline?limit=${TIMELINE_PAGE}${after === undefined ? '' : `&after=${encodeURIComponent(after)}`}`;

/**
 * Where the next read starts: the next page's `after` while more follow; at the end, the last revision shown, so that
 * a read again (read models behind the store) brings only events that were not there yet.
 */
export const nextAfterOf = (pages: TimelinePages): string | undefined => pages.nextAfter ?? pages.entries.at(-1)?.revision;

/**
 * `pages` with `page` after them: only the entries past the last revision shown are added, so a page read twice (a
 * read again racing a click) adds nothing twice and the timeline stays in stream order.
 */
export const appendPage = (pages: TimelinePages, page: Timeline): TimelinePages => {
  const last = pages.entries.at(-1)?.revision;
  if (last === undefined) return { entries: page.entries, ...(page.nextAfter !== undefined ? { nextAfter: page.nextAfter } : {}) };
  const pageLast = page.entries.at(-1)?.revision;
  // A page that ends before what is shown (read before the one that brought the rest) says nothing of what follows.
  if (pageLast === undefined || BigInt(pageLast) < BigInt(last)) return pages;
  const fresh = page.entries.filter((e) => BigInt(e.revision) > BigInt(last));
  return { entries: [...pages.entries, ...fresh], ...(page.nextAfter !== undefined ? { nextAfter: page.nextAfter } : {}) };
};

/**
 * The fields of a 422 `entity_too_long` refusal (adapters/http/routes/entity-bound.ts): a problem document whose `type`
 * names the code (https://credence.dev/problems/entity_too_long, adapters/http/problems.ts), with the stream, its
 * length and the bound. On a store that claims facts (EventStoreDB) it also names the stream's records, the fact
 * claims among those it read, and the bound on records (`limits.maxEntityRecords`); the embedded store sends neither.
 */
const count = z.number().int().nonnegative();
const EntityTooLong = z.object({
  type: z.string().max(4096).regex(/\/entity_too_long$/),
  streamId: z.string().max(4096),
  events: count,
  maxEvents: count,
  records: count.optional(),
  claims: count.optional(),
  maxRecords: count.optional(),
});
export type EntityTooLong = z.infer<typeof EntityTooLong>;

/**
 * What the refusal says, in the server's terms (its detail, entity-bound.ts): too many events, or, with no more events
 * than their bound, too many records, most of them fact claims (review 181: the page said "holds 1 events, more than
 * the 1"). The server counts events and claims only among the records it read: `events + claims` of them.
 */
export const tooLongSays = ({ streamId, events, maxEvents, records, claims, maxRecords }: EntityTooLong): string => {
  if (records === undefined || claims === undefined || maxRecords === undefined) {
    return `${streamId} holds ${events} events, more than the ${maxEvents} the server rebuilds in one request`;
  }
  const read = events + claims;
  if (events > maxEvents) {
    // The server stops counting once the events pass their bound: those it counted are then a lower bound.
    const counted = read < records ? `${events} or more` : String(events);
    return `${streamId} holds ${counted} events, more than the ${maxEvents} the server rebuilds in one request ` +
      `(${claims} of the first ${read} of its ${records} records are EventStoreDB fact claims, which are not its events)`;
  }
  return `${streamId} holds ${records} records (${claims} of the first ${read} are EventStoreDB fact claims), ` +
    `more than the ${maxRecords} the server reads in one request (limits.maxEntityRecords)`;
};

/** The refusal's fields when `error` is the server's 422 `entity_too_long`; undefined for any other error. */
export const entityTooLong = (error: unknown): EntityTooLong | undefined => {
  if (!(error instanceof ApiError) || error.status !== 422) return undefined;
  const parsed = EntityTooLong.safeParse(error.problem);
  return parsed.success ? parsed.data : undefined;
};
