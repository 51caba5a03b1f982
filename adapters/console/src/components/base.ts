import { html, LitElement, nothing, type TemplateResult } from 'lit';
import { ApiError, describeError, worthRetrying, type Api } from '../api.ts';
import { waitText } from '../retry-after.ts';
import type { Session } from '../session.ts';
import { visibleText } from '../visible-text.ts';

/**
 * Components render into the light DOM, styled by the one stylesheet the server serves (styles.css): no inline
 * style, so the console runs under `style-src 'self'`.
 */
export class ConsoleElement extends LitElement {
  protected override createRenderRoot(): HTMLElement {
    return this;
  }
}

/** A page: it reads through the signed-in session's API client. */
export class ConsolePage extends ConsoleElement {
  static override properties = { api: { attribute: false }, session: { attribute: false } };
  declare api: Api;
  declare session: Session;
}

export type Load<T> =
  | { readonly state: 'idle' }
  | { readonly state: 'loading' }
  | { readonly state: 'ok'; readonly value: T }
  | { readonly state: 'error'; readonly error: unknown };

export const IDLE = { state: 'idle' } as const;
export const LOADING = { state: 'loading' } as const;

/**
 * Loading, refused (403: the server said this role may not), or failed, with the server's own words; with `retry`, a
 * failure worth another try also says the wait the server asked for and offers **Retry**.
 */
export const renderLoad = <T>(
  load: Load<T>,
  role: string,
  what: string,
  ok: (value: T) => TemplateResult | typeof nothing,
  retry?: () => void,
): TemplateResult | typeof nothing => {
  switch (load.state) {
    case 'idle':
      return nothing;
    case 'loading':
      return html`<p class="loading" role="status" aria-live="polite">Loading ${what}…</p>`;
    case 'error':
      return renderError(load.error, role, what, retry);
    case 'ok':
      return ok(load.value);
  }
};

/**
 * A 403 of the route's roles (adapters/http/problems.ts `forbidden`, which names the roles allowed): another token is
 * the way in. Any other 403 says in its own detail what it takes, e.g. a pseudonym's history, which an auditor reads
 * once they have recorded a resolution of it; advice to sign in as another role contradicted it (review 130).
 */
const refusedForTheRole = (error: ApiError): boolean => /\/forbidden$/.test(error.problem.type ?? '');

export const renderError = (error: unknown, role: string, what: string, retry?: () => void): TemplateResult => {
  if (error instanceof ApiError && error.refused) {
    const forRole = refusedForTheRole(error);
    // The server's words, shown as describeError shows them: a format character must not reorder the sentence.
    const reason = visibleText(error.problem.detail ?? error.problem.title ?? '');
    return html`<div class="refused" role="alert">
      <h3>${forRole ? 'Not available to your role' : 'Refused'}</h3>
      <p>The server refused ${what} to the role <strong>${role}</strong> (403 Forbidden)${reason ? `: ${reason}` : ''}.</p>
      ${forRole ? html`<p>Sign in with a token of a role that may read it (see docs/service.md, "Roles").</p>` : nothing}
    </div>`;
  }
  if (retry === undefined || !worthRetrying(error)) {
    return html`<div class="error" role="alert"><strong>Could not load ${what}.</strong> ${describeError(error)}</div>`;
  }
  return html`<div class="error" role="alert"><strong>Could not load ${what}.</strong> ${describeError(error)}
    ${renderRetry(error, retry)}</div>`;
};

/**
 * After a failure worth another try (a 5xx, 408 or 429, a timeout, the server out of reach): the wait the server's
 * `Retry-After` asked for and **Retry**; nothing after any other. As the overview and the sign-in say it (review 181:
 * a 429 or 408 showed the problem, not the wait it asked for).
 */
export const renderRetry = (error: unknown, retry: () => void): TemplateResult | typeof nothing => {
  if (!worthRetrying(error)) return nothing;
  const wait = error instanceof ApiError ? error.retryAfterMs : undefined;
  // A wait past ten digits (domain/retry-after.ts) is not said, as the CLI does not print it.
  return html`${wait !== undefined && Number.isFinite(wait) ? `The server asks to wait ${waitText(wait)} before trying again.` : ''}
    <button type="button" class="secondary" @click=${retry}>Retry</button>`;
};

/**
 * How far behind the read models were, as a page says it: a count the server stopped at its limit (`atLeast`,
 * `eventsBehindAtLeast`, 100,000) is that many or more, never shown as exact (reviews 416 and 428).
 */
export const behindCount = (eventsBehind: number, atLeast: boolean | undefined): string => `${eventsBehind}${atLeast === true ? ' or more' : ''}`;

/**
 * Said above an answer from read models that were behind the store: `what` may miss the latest changes; read again
 * shortly, unless `readAgain` is false (a read again failed in a way another try would not mend: reload the page).
 * `atLeast`: the count stopped at the server's limit.
 */
export const renderBehind = (eventsBehind: number, what: string, readAgain = true, atLeast = false): TemplateResult | typeof nothing =>
  eventsBehind > 0
    ? html`<p class="warning" role="status" data-testid="events-behind">The read models were ${behindCount(eventsBehind, atLeast)} event(s) behind the store when this was read: ${what} may miss the latest changes. ${readAgain ? 'It is read again shortly.' : 'It is not read again by itself: reload the page to read it again.'}</p>`
    : nothing;

export const formatTime = (iso: string | undefined): string => {
  if (iso === undefined) return '';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
};
