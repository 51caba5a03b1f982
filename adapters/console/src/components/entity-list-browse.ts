import { html, nothing, type TemplateResult } from 'lit';
import { ApiError, describeError, worthRetrying, type Api, type Behind } from '../api.ts';
import { askedWaitMs } from '../asked-wait.ts';
import type { ReadAgainWhileBehind } from '../read-again.ts';
import { entityListHref, listPagesOf } from '../router.ts';
import { EntityPage } from '../schemas.ts';
import { LOADING, renderBehind, type Load } from './base.ts';
import { renderEntityList, type EntityList } from './entity-list.ts';

const BROWSE_PAGE = 50;

/** What browsing the list uses of the entity view (entity-view.ts) without an id: its API client and kind, and what it sets. */
export interface ListView {
  readonly api: Api;
  readonly kind: string;
  browse: Load<EntityList>;
  /** Events the list's read model had not handled when it was read (0: none), or more; kept until a read again succeeds. */
  behind: Behind;
  /** Why the last read of the list failed while a page read before is still shown. */
  listFailure: unknown;
  /** A page of the list asked for by the user (Next, Previous, Retry) is being read. */
  listReading: boolean;
  /** When the list reads again by itself (read model behind, or a failure worth another try); undefined: it does not. */
  againInMs: number | undefined;
  /** Why the server refused the page the address named: page 1 is shown instead, with this. */
  cursorRefused: unknown;
}

/** What the view lends the list: its reads again (one page's at a time) and the signal of what it shows now. */
export interface ListOptions {
  readonly readAgain: ReadAgainWhileBehind;
  readonly signal: () => AbortSignal;
}

/** The cursors of the list's page named in the address (router.ts checked their form). */
export const pagesOf = (listPages: string): readonly string[] => (listPages === '' ? [] : listPages.split('.'));

/** The entities of the view's kind, a page at a time, the page kept in the address (router.ts `pages`). */
export class EntityListBrowse {
  #request = 0;
  /** The cursors of the page of the list last asked for: Retry asks for it again. */
  #asked: readonly string[] = [];

  constructor(
    private readonly view: ListView,
    private readonly options: ListOptions,
  ) {}

  /** The cursors of the page last asked for, as the address names them (joined with dots). */
  get asked(): string {
    return this.#asked.join('.');
  }

  /**
   * The page of the list after the last of `cursors`. The page shown stays while it is read, and when the read fails it
   * stays, marked as last read with why (review 248: a 429 on Next page, or a failed read again, put the error in place
   * of the table and its pager); a read worth another try is tried again after the server's wait or the backoff, and
   * Retry asks for the same page now.
   */
  async load(cursors: readonly string[], again = false): Promise<void> {
    const view = this.view;
    const readAgainWhileBehind = this.options.readAgain;
    // Only the latest list asked for is shown: a read again still in flight when the user pages must not put its
    // page back (found in review).
    const request = ++this.#request;
    this.#asked = cursors;
    if (!again) {
      readAgainWhileBehind.reset();
      view.listReading = true;
    }
    if (view.browse.state !== 'ok') view.browse = LOADING;
    const cursor = cursors.at(-1);
    const path = `/v1/entities?kind=${encodeURIComponent(view.kind)}&limit=${BROWSE_PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const signal = this.options.signal();
    const readAgain = (): void => void (signal.aborted || this.load(cursors, true));
    try {
      const { value, eventsBehind, eventsBehindAtLeast } = await view.api.jsonBehind(path, EntityPage, signal);
      if (signal.aborted || request !== this.#request) return;
      view.browse = { state: 'ok', value: { ...value, cursors } };
      view.behind = { eventsBehind, eventsBehindAtLeast };
      view.listFailure = undefined;
      if (cursors.length > 0) view.cursorRefused = undefined;
      // The page in the address, so that a reload, Back or a shared link comes back to it (review 300); a new entry of
      // the history, as a page the user asked for is. The console's hash route then names what is shown already.
      if (listPagesOf(location.hash).join('.') !== cursors.join('.')) location.hash = entityListHref(view.kind, cursors);
      // The list read again, on the same page, while its read model is behind (a revoked credential listed live).
      view.againInMs = readAgainWhileBehind.after(eventsBehind > 0, readAgain);
    } catch (error) {
      if (signal.aborted || request !== this.#request) return;
      // A cursor the server refuses (a hand-edited or outdated address: 400, query.cursor) gives page 1, with why, in
      // place of the address's page.
      if (!again && cursors.length > 0 && error instanceof ApiError && error.status === 400) {
        view.cursorRefused = error;
        location.replace(entityListHref(view.kind, []));
        void this.load([]);
        return;
      }
      // The warning of the page shown stays with it: nothing read since says otherwise.
      if (view.browse.state === 'ok') view.listFailure = error;
      else view.browse = { state: 'error', error };
      if (worthRetrying(error)) view.againInMs = readAgainWhileBehind.after(true, readAgain, askedWaitMs([error]));
      else {
        readAgainWhileBehind.reset();
        view.againInMs = undefined;
      }
    } finally {
      if (request === this.#request) view.listReading = false;
    }
  }

  /** The list's page: its heading, the id picker (`picker`), how it stands against the store, and the page with its pager. */
  render(role: string, picker: TemplateResult): TemplateResult {
    const view = this.view;
    const retry = (): void => void this.load(this.#asked);
    return html`<h2 tabindex="-1">Entities</h2>${picker}${renderBehind(
      view.behind.eventsBehind,
      'this list',
      view.listFailure === undefined || view.againInMs !== undefined,
      view.behind.eventsBehindAtLeast,
    )}${view.cursorRefused !== undefined
      ? html`<p class="warning" role="status" data-testid="list-cursor-refused">The page named in the address could not be read (${describeError(view.cursorRefused)}): the first page is shown.</p>`
      : nothing}${renderEntityList(view.browse, role, view.kind, (cursors) => this.load(cursors), {
      reading: view.listReading,
      failure: view.listFailure,
      againInMs: view.againInMs,
      retry,
    })}`;
  }
}
