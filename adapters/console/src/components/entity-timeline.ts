import { html, nothing } from 'lit';
import { NOT_BEHIND, type Api, type Behind } from '../api.ts';
import { Timeline } from '../schemas.ts';
import { appendPage, nextAfterOf, NO_PAGES, TIMELINE_PAGE, timelinePagePath, type TimelinePages } from '../timeline-pages.ts';
import { LOADING, renderError, type Load } from './base.ts';
import { pagerButton } from './entity-list.ts';
import { renderEntries } from './timeline-table.ts';

/** A read of the next page of the timeline: under way, failed, or none. */
export type PageRead = Exclude<Load<never>, { state: 'ok' }>;

/** What the timeline's reads use of the entity view (entity-view.ts): its API client, and what they set. */
export interface TimelineView {
  readonly api: Api;
  timeline: Load<TimelinePages>;
  nextPage: PageRead;
}

/**
 * The first page of the timeline, shown in place of the timeline's loading state or error; how many events the read
 * model it comes from had not handled (0 when it failed: its error is shown instead).
 */
export const readFirstPage = async (view: TimelineView, kind: string, id: string, signal: AbortSignal): Promise<Behind> => {
  try {
    return await readPage(view, kind, id, signal);
  } catch (error) {
    if (!signal.aborted) view.timeline = { state: 'error', error };
    return NOT_BEHIND;
  }
};

/**
 * The page after the last entry shown (the first when none is), added to the timeline; returns how many events the
 * read model it comes from had not handled, which the view says. Never the whole timeline: the server refuses that of
 * a long entity.
 */
export const readPage = async (view: TimelineView, kind: string, id: string, signal: AbortSignal): Promise<Behind> => {
  const shown = shownPages(view) ?? NO_PAGES;
  const { value, eventsBehind, eventsBehindAtLeast } = await view.api.jsonBehind(timelinePagePath(kind, id, nextAfterOf(shown)), Timeline, signal);
  if (signal.aborted) return NOT_BEHIND;
  // Against what is shown now: another read may have added a page meanwhile (appendPage adds nothing twice).
  view.timeline = { state: 'ok', value: appendPage(shownPages(view) ?? NO_PAGES, value) };
  return { eventsBehind, eventsBehindAtLeast };
};

/** The pages of the timeline shown now (undefined while it loads or failed). */
export const shownPages = (view: TimelineView): TimelinePages | undefined => {
  const timeline: Load<TimelinePages> = view.timeline;
  return timeline.state === 'ok' ? timeline.value : undefined;
};

/**
 * Read again while behind: only where the timeline ends, for the events the read model had not handled; pages not
 * read yet are read when asked for, and a timeline not read at all is read from its first page. Returns how far behind
 * the read model still was; a failure is thrown, the timeline shown left as it was (review 248: it was reported as a
 * failed "next events" read nobody asked for), or the error shown in place of one never read.
 */
export const readTimelineAgain = async (view: TimelineView, kind: string, id: string, signal: AbortSignal): Promise<Behind> => {
  if (view.timeline.state !== 'ok') {
    view.timeline = LOADING;
    try {
      return await readPage(view, kind, id, signal);
    } catch (error) {
      if (!signal.aborted) view.timeline = { state: 'error', error };
      throw error;
    }
  }
  if (view.timeline.value.nextAfter !== undefined || view.nextPage.state === 'loading') return NOT_BEHIND;
  return readPage(view, kind, id, signal);
};

/**
 * The pages shown, how many, and "Load more events" (`loadMore`) while more follow; a failed read of them says the
 * server's wait and offers Retry (`loadMore` again), as docs/console.md says every page does (review 248).
 */
export const renderTimeline = (pages: TimelinePages, nextPage: PageRead, role: string, loadMore: () => void) => {
  const { entries, nextAfter } = pages;
  if (entries.length === 0) return html`<p class="empty">No events.</p>`;
  return html`${renderEntries(entries)}
    <div class="pager">
      <p class="meta" data-testid="timeline-shown" tabindex="-1">${entries.length} event${entries.length === 1 ? '' : 's'} shown, revisions ${entries[0]!.revision} to ${entries.at(-1)!.revision}${nextAfter !== undefined ? '; more follow' : ''}.</p>
      ${nextAfter !== undefined
        ? pagerButton('Load more events', nextPage.state === 'loading', loadMore)
        : nothing}
      ${nextPage.state === 'loading' ? html`<p class="loading" role="status" aria-live="polite">Loading the next ${TIMELINE_PAGE} events…</p>` : nothing}
    </div>
    ${nextPage.state === 'error' ? renderError(nextPage.error, role, 'the next events of the timeline', loadMore) : nothing}`;
};
