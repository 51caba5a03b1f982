import { html } from 'lit';
import type { z } from 'zod';
import { entityHref } from '../router.ts';
import type { EntityPage } from '../schemas.ts';
import { formatTime, renderLoad, type Load } from './base.ts';
import { badge } from './state-badge.ts';

type Summary = z.infer<typeof EntityPage>['items'][number];

/** A page of the entities of one kind, with the cursors of the pages before it (to page back). */
export interface EntityList {
  readonly items: readonly Summary[];
  readonly nextCursor?: string;
  readonly cursors: readonly string[];
}

/** The entities of `kind`, a page at a time: `loadList(cursors)` reads the page after the last of `cursors`. */
export const renderEntityList = (browse: Load<EntityList>, role: string, kind: string, loadList: (cursors: readonly string[]) => unknown) =>
  renderLoad(browse, role, `the ${kind} entities`, (page) =>
    page.items.length === 0 && page.cursors.length === 0
      ? html`<p class="empty">No ${kind} entity yet.</p>`
      : html`<table>
              <thead><tr><th scope="col">Entity</th><th scope="col">State</th><th scope="col">Last change</th></tr></thead>
              <tbody>
                ${page.items.map(
                  (s) => html`<tr><td><a href=${entityHref(s.kind, s.id)}>${s.kind}-${s.id}</a></td><td>${badge(s.state)}</td><td>${formatTime(s.updatedAt)}</td></tr>`,
                )}
              </tbody>
            </table>
            <div class="pager">
              <button type="button" class="secondary" ?disabled=${page.cursors.length === 0} @click=${() => loadList(page.cursors.slice(0, -1))}>Previous page</button>
              <button type="button" class="secondary" ?disabled=${page.nextCursor === undefined} @click=${() => loadList([...page.cursors, page.nextCursor!])}>Next page</button>
            </div>`,
  );
