/**
 * The entity page reads a timeline in pages (adapters/console/src/timeline-pages.ts): each page is added after what
 * is shown, once, in stream order, whichever of two reads (a click on "Load more events", a read again while the read
 * models are behind) answers first; and a 422 `entity_too_long` is told apart from any other refusal by its fields.
 * test/console-pages-a-long-timeline.test.ts proves the same in Chromium against the service.
 */
import { describe, expect, it } from 'vitest';
import type { TimelineEntry } from '../adapters/console/src/schemas.ts';

/** What these tests read of adapters/console/src/timeline-pages.ts. */
interface TimelinePages {
  readonly entries: readonly TimelineEntry[];
  readonly nextAfter?: string;
}
type Page = { readonly entries: readonly TimelineEntry[]; readonly nextAfter?: string };

// Loaded at run time: they import api.ts, type-checked by the console's own project (DOM lib, whose RequestInit knows
// `cache`), not by this Node one (as test/console-event-stream-reconnects-within-bounds.test.ts does).
const consoleSource = (file: string): string => new URL(`../adapters/console/src/${file}`, import.meta.url).href;
const { ApiError } = (await import(consoleSource('api.ts'))) as {
  ApiError: new (status: number, problem: Record<string, unknown>, path: string) => Error;
};
type TooLong = { streamId: string; events: number; maxEvents: number; records?: number; claims?: number; maxRecords?: number };
const { appendPage, entityTooLong, nextAfterOf, NO_PAGES, TIMELINE_PAGE, timelinePagePath, tooLongSays } = (await import(consoleSource('timeline-pages.ts'))) as {
  appendPage: (pages: TimelinePages, page: Page) => TimelinePages;
  entityTooLong: (error: unknown) => TooLong | undefined;
  tooLongSays: (refusal: TooLong) => string;
  nextAfterOf: (pages: TimelinePages) => string | undefined;
  NO_PAGES: TimelinePages;
  TIMELINE_PAGE: number;
  timelinePagePath: (kind: string, id: string, after?: string) => string;
};

const entry = (revision: number): TimelineEntry => ({
  position: String(1_000 + revision),
  revision: String(revision),
  type: 'NodeAssociated',
  occurredAt: '2026-02-01T00:00:00Z',
  actor: { id: 'system', role: 'system' },
  commandType: 'recordNodeAssociation',
  signature: { status: 'unsigned' },
});
const page = (from: number, to: number, nextAfter?: string) => ({
  entries: Array.from({ length: to - from + 1 }, (_, i) => entry(from + i)),
  ...(nextAfter !== undefined ? { nextAfter } : {}),
});
const revisions = (pages: { entries: readonly TimelineEntry[] }) => pages.entries.map((e) => Number(e.revision));

describe('timeline pages', () => {
  it('asks for one page at a time, after the next page\'s revision, then after the last shown', () => {
    expect(timelinePagePath('node', 'n 1')).toBe(`/v1/entities/node/n%201/timeline?limit=${TIMELINE_PAGE}`);
    expect(timelinePagePath('node', 'n1', '99')).toBe(`/v1/entities/node/n1/timeline?limit=${TIMELINE_PAGE}&after=99`);
    expect(nextAfterOf(NO_PAGES)).toBeUndefined();
    expect(nextAfterOf(page(0, 99, '99'))).toBe('99');
    expect(nextAfterOf(page(0, 41))).toBe('41');
  });

  it('adds a page after what is shown, in order, and keeps its nextAfter', () => {
    const first = appendPage(NO_PAGES, page(0, 99, '99'));
    expect(revisions(first)).toEqual([...Array(100).keys()]);
    expect(first.nextAfter).toBe('99');
    const both = appendPage(first, page(100, 121));
    expect(revisions(both)).toEqual([...Array(122).keys()]);
    expect(both.nextAfter).toBeUndefined();
  });

  it('adds nothing twice when a page is read twice or overlaps what is shown', () => {
    const first = appendPage(NO_PAGES, page(0, 99, '99'));
    expect(appendPage(appendPage(first, page(100, 199, '199')), page(100, 199, '199'))).toEqual(appendPage(first, page(100, 199, '199')));
    // A read again from revision 90 (the read models behind) brings 91..130: only 100..130 are new.
    expect(revisions(appendPage(first, page(91, 130)))).toEqual([...Array(131).keys()]);
  });

  it('keeps what is shown when a page answered late ends before it', () => {
    const shown = appendPage(appendPage(NO_PAGES, page(0, 99, '99')), page(100, 199, '199'));
    expect(appendPage(shown, page(0, 99, '99'))).toBe(shown);
    expect(appendPage(shown, { entries: [] })).toBe(shown);
  });

  it('reads the fields of a 422 entity_too_long, and nothing else as one', () => {
    const problem = { type: 'https://credence.dev/problems/entity_too_long', title: 'Entity too long', status: 422, detail: 'node-n1 holds 122 events', streamId: 'node-n1', events: 122, maxEvents: 110 };
    expect(entityTooLong(new ApiError(422, problem, '/v1/entities/node/n1'))).toEqual({ type: problem.type, streamId: 'node-n1', events: 122, maxEvents: 110 });
    expect(entityTooLong(new ApiError(422, { ...problem, type: 'https://credence.dev/problems/illegal_transition' }, '/x'))).toBeUndefined();
    expect(entityTooLong(new ApiError(500, problem, '/x'))).toBeUndefined();
    expect(entityTooLong(new ApiError(422, { type: problem.type, status: 422 }, '/x'))).toBeUndefined();
    expect(entityTooLong(new Error('entity_too_long'))).toBeUndefined();
  });

  // Review 181: on EventStoreDB the server also refuses a stream of more records (fact claims included) than
  // limits.maxEntityRecords, with `records`, `claims` and `maxRecords` (adapters/http/routes/entity-bound.ts); the page
  // said "holds 1 events, more than the 1".
  it('says the records, and how many are fact claims, of an EventStoreDB stream refused for its records', () => {
    const problem = { type: 'https://credence.dev/problems/entity_too_long', streamId: 'subscription-s1', events: 1, records: 3, claims: 1, maxEvents: 1, maxRecords: 2 };
    const refusal = entityTooLong(new ApiError(422, problem, '/v1/entities/subscription/s1'));
    expect(refusal).toEqual(problem);
    expect(tooLongSays(refusal!)).toBe(
      'subscription-s1 holds 3 records (1 of the first 2 are EventStoreDB fact claims), more than the 2 the server reads in one request (limits.maxEntityRecords)',
    );
  });

  it('says the events of a stream refused for its events, a lower bound where the server stopped counting', () => {
    expect(tooLongSays({ streamId: 'node-n1', events: 122, maxEvents: 110 })).toBe('node-n1 holds 122 events, more than the 110 the server rebuilds in one request');
    expect(tooLongSays({ streamId: 'node-n1', events: 3, maxEvents: 2, records: 5, claims: 1, maxRecords: 20 })).toBe(
      'node-n1 holds 3 or more events, more than the 2 the server rebuilds in one request (1 of the first 4 of its 5 records are EventStoreDB fact claims, which are not its events)',
    );
  });
});
