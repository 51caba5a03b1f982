import { html, nothing } from 'lit';
import type { Api } from '../api.ts';
import { Timeline } from '../schemas.ts';
import { appendPage, nextAfterOf, NO_PAGES, TIMELINE_PAGE, timelinePagePath, type TimelinePages } from '../timeline-pages.ts';
import { LOADING, renderError, type Load } from './base.ts';
import { renderEntries } from './timeline-table.ts';

/** A read of the next page of the timeline: under way, failed, or none. */
export type PageRead = Exclude<Load<never>, { state: 'ok' }>;

/** What the timeline's reads use of the entity view (entity-view.ts): its API client, and what they set. */
export interface TimelineView {
  readonly api: Api;
  timeline: Load<TimelinePages>;
  nextPage: PageRead;
  behind: number;
}

/** The first page of the timeline, shown in place of the timeline's loading state or error. */
export const readFirstPage = async (view: TimelineView, kind: string, id: string, signal: AbortSignal): Promise<void> => {
  try {
    await readPage(view, kind, id, signal);
  } catch (error) {
    if (!signal.aborted) view.timeline = { state: 'error', error };
  }
};

/**
 * The page after the last entry shown (the first when none is), added to the timeline, noting how far behind the
 * read model it comes from was. Never the whole timeline: the server refuses that of a long entity.
 */
export const readPage = async (view: TimelineView, kind: string, id: string, signal: AbortSignal): Promise<void> => {
  const shown = shownPages(view) ?? NO_PAGES;
  const { value, eventsBehind } = await view.api.jsonBehind(timelinePagePath(kind, id, nextAfterOf(shown)), Timeline, signal);
  if (signal.aborted) return;
  view.behind = Math.max(view.behind, eventsBehind);
  // Against what is shown now: another read may have added a page meanwhile (appendPage adds nothing twice).
  view.timeline = { state: 'ok', value: appendPage(shownPages(view) ?? NO_PAGES, value) };
};

/** The pages of the timeline shown now (undefined while it loads or failed). */
export const shownPages = (view: TimelineView): TimelinePages | undefined => {
  const timeline: Load<TimelinePages> = view.timeline;
  return timeline.state === 'ok' ? timeline.value : undefined;
};

/**
 * Read again while behind: only where the timeline ends, for the events the read model had not handled; pages not
 * read yet are read when asked for, and a timeline not read at all is read from its first page.
 */
export const readTimelineAgain = async (view: TimelineView, kind: string, id: string, signal: AbortSignal): Promise<void> => {
  if (view.timeline.state !== 'ok') {
    view.timeline = LOADING;
    return readFirstPage(view, kind, id, signal);
  }
  if (view.timeline.value.nextAfter !== undefined || view.nextPage.state === 'loading') return;
  try {
    await readPage(view, kind, id, signal);
  } catch (error) {
    if (!signal.aborted) view.nextPage = { state: 'error', error };
  }
};

/** The pages shown, how many, and "Load more events" (`loadMore`) while more follow. */
export const renderTimeline = (pages: TimelinePages, nextPage: PageRead, role: string, loadMore: () => void) => {
  const { entries, nextAfter } = pages;
  if (entries.length === 0) return html`<p class="empty">No events.</p>`;
  return html`${renderEntries(entries)}
    <div class="pager">
      <p class="meta" data-testid="timeline-shown">${entries.length} event${entries.length === 1 ? '' : 's'} shown, revisions ${entries[0]!.revision} to ${entries.at(-1)!.revision}${nextAfter !== undefined ? '; more follow' : ''}.</p>
      ${nextAfter !== undefined
        ? html`<button type="button" class="secondary" ?disabled=${nextPage.state === 'loading'} @click=${() => loadMore()}>Load more events</button>`
        : nothing}
      ${nextPage.state === 'loading' ? html`<p class="loading" role="status" aria-live="polite">Loading the next ${TIMELINE_PAGE} events…</p>` : nothing}
    </div>
    ${nextPage.state === 'error' ? renderError(nextPage.error, role, 'the next events of the timeline') : nothing}`;
};
