import { html, nothing } from 'lit';
import type { z } from 'zod';
import { describeError } from '../api.ts';
import { waitText } from '../retry-after.ts';
import { entityHref } from '../router.ts';
import type { EntityPage } from '../schemas.ts';
import { formatTime, renderLoad, renderRetry, type Load } from './base.ts';
import { badge } from './state-badge.ts';

type Summary = z.infer<typeof EntityPage>['items'][number];

/** A page of the entities of one kind, with the cursors of the pages before it (to page back). */
export interface EntityList {
  readonly items: readonly Summary[];
  readonly nextCursor?: string;
  readonly cursors: readonly string[];
}

/** How the reads of the list stand beside the page shown. */
export interface ListReads {
  /** A page the user asked for is being read: the page shown stays, its pager waits. */
  readonly reading: boolean;
  /** Why the last read failed, the page shown being the one read before (undefined: it did not). */
  readonly failure: unknown;
  /** When the list is read again by itself (undefined: it is not). */
  readonly againInMs: number | undefined;
  /** Asks for the page last asked for again, now. */
  readonly retry: () => void;
}

/**
 * What an empty first page says. The server lists to an auditor only the pseudonyms it recorded a resolution of
 * (review 281): "none yet" would say the fleet has none.
 */
const emptyText = (kind: string): string =>
  kind === 'pseudonym' ? 'No pseudonym you have resolved: pseudonyms are listed only to the auditor who recorded a resolution of them.' : `No ${kind} entity yet.`;

/**
 * A pager button that can do nothing now (a page is being read, or there is no such page): aria-disabled, its clicks
 * ignored, rather than `disabled`, which drops the keyboard's focus from it to <body> (review 300).
 */
export const pagerButton = (label: string, inert: boolean, go: () => unknown) =>
  html`<button type="button" class="secondary" aria-disabled=${inert ? 'true' : 'false'} @click=${() => void (inert || go())}>${label}</button>`;

/**
 * The entities of `kind`, a page at a time: `loadList(cursors)` reads the page after the last of `cursors`. A failed
 * read leaves the page shown (review 248: the error took its place, and its pager, with no Retry): marked as last read
 * with why, when it is read again, and Retry with the server's wait; a first page never read shows its error with Retry.
 */
export const renderEntityList = (browse: Load<EntityList>, role: string, kind: string, loadList: (cursors: readonly string[]) => unknown, reads: ListReads) =>
  renderLoad(
    browse,
    role,
    `the ${kind} entities`,
    (page) =>
      html`${reads.failure !== undefined
          ? html`<p class="warning" role="status" data-testid="list-stale">Could not read the ${kind} entities (${describeError(reads.failure)}): the page below is shown as last read.
              ${reads.againInMs !== undefined ? `It is read again in ${waitText(reads.againInMs)}.` : ''} ${renderRetry(reads.failure, reads.retry)}</p>`
          : nothing}
        ${page.items.length === 0 && page.cursors.length === 0
          ? html`<p class="empty">${emptyText(kind)}</p>`
          : html`<table>
              <thead><tr><th scope="col">Entity</th><th scope="col">State</th><th scope="col">Last change</th></tr></thead>
              <tbody>
                ${page.items.map(
                  (s) => html`<tr><td><a href=${entityHref(s.kind, s.id)}>${s.kind}-${s.id}</a></td><td>${badge(s.state)}</td><td>${formatTime(s.updatedAt)}</td></tr>`,
                )}
              </tbody>
            </table>
            <div class="pager">
              ${pagerButton('Previous page', reads.reading || page.cursors.length === 0, () => loadList(page.cursors.slice(0, -1)))}
              ${pagerButton('Next page', reads.reading || page.nextCursor === undefined, () => loadList([...page.cursors, page.nextCursor!]))}
              ${reads.reading ? html`<p class="loading" role="status" aria-live="polite">Loading the ${kind} entities…</p>` : nothing}
            </div>`}`,
    reads.retry,
  );
