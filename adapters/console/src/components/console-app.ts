import { html, nothing, type PropertyValues } from 'lit';
import { Api, apiErrorOf, bounded, describeError, problemOf, REQUEST_TIMEOUT_MS, TimedOut } from '../api.ts';
import { waitText } from '../retry-after.ts';
import { PAGES, parseRoute, type Route } from '../router.ts';
import { clearSession, loadSession, parseToken, saveSession, type Session } from '../session.ts';
import { watchSession } from '../session-watch.ts';
import { documentVisibility } from '../document-visibility.ts';
import { ConsoleElement } from './base.ts';
import { visibleText } from '../visible-text.ts';

/** The document's title, after each page's heading (index.html holds it before the console starts). */
const APP_TITLE = 'Credence audit console';

/** The shell: sign-in, navigation, and the page the hash names. */
export class ConsoleApp extends ConsoleElement {
  static override properties = {
    session: { state: true },
    route: { state: true },
    signInError: { state: true },
    signInNotice: { state: true },
    checking: { state: true },
    tokenRefused: { state: true },
  };
  declare session: Session | undefined;
  declare route: Route;
  declare signInError: string | undefined;
  declare signInNotice: string | undefined;
  declare checking: boolean;
  /** The token itself was refused (unreadable, or 401), not the server out of reach: the field is marked invalid. */
  declare tokenRefused: boolean;
  private api: Api | undefined;
  private stopWatch: (() => void) | undefined;
  private readonly onHash = (): void => {
    const before = this.route;
    this.route = parseRoute(location.hash);
    // Paging the entity list changes only its page in the address: focus stays on the pager (review 300).
    if (before.page === 'entity' && this.route.page === 'entity' && (before.kind ?? 'node') === (this.route.kind ?? 'node') && before.id === this.route.id) return;
    // Focus to the page's heading, so a keyboard or screen-reader user lands on what changed.
    void this.updateComplete.then(() => this.querySelector<HTMLElement>('main h2')?.focus());
    void this.updateComplete.then(() => this.retitle());
  };

  constructor() {
    super();
    this.route = parseRoute(location.hash);
    this.checking = false;
    this.tokenRefused = false;
    this.signInError = undefined;
    this.signInNotice = undefined;
    const session = loadSession();
    this.session = undefined;
    if (session !== undefined) this.use(session);
  }

  override connectedCallback(): void {
    super.connectedCallback();
    addEventListener('hashchange', this.onHash);
    if (this.session !== undefined && this.api !== undefined && this.stopWatch === undefined) this.watch(this.session, this.api);
  }

  /**
   * index.html's words for a console whose script did not run (review 458), removed once a first render has committed
   * (Lit leaves light-DOM children in place): a first render that throws leaves them, not a blank page (review 463).
   * Same task as that render, so they never flash beside it.
   */
  protected override firstUpdated(changed: PropertyValues): void {
    super.firstUpdated(changed);
    for (const boot of this.querySelectorAll(':scope > .boot')) boot.remove();
  }

  /**
   * Each page titled after its heading, so a tab, a history entry and a screen reader's page announcement say which
   * page it is (review 388: it stayed "Credence audit console", WCAG 2.4.2). The page's own element renders its
   * heading in its own update, after this one.
   */
  protected override updated(changed: PropertyValues): void {
    super.updated(changed);
    void this.retitle();
  }

  private async retitle(): Promise<void> {
    const page = this.querySelector<Element & { updateComplete?: Promise<unknown> }>('main > *');
    await page?.updateComplete;
    const heading = this.session === undefined ? undefined : this.querySelector('main h2')?.textContent?.replace(/\s+/g, ' ').trim();
    document.title = heading ? `${heading} – ${APP_TITLE}` : APP_TITLE;
  }

  override disconnectedCallback(): void {
    removeEventListener('hashchange', this.onHash);
    this.stopWatch?.();
    this.stopWatch = undefined;
    super.disconnectedCallback();
  }

  private use(session: Session): void {
    const api = new Api(session.token);
    // Only while this token is the tab's: a request of a session ended already must not replace what its end said.
    api.onUnauthenticated((error) => {
      if (this.api === api) this.signOut(`Signed out: the server no longer accepts this token (${describeError(error)}).`);
    });
    this.api = api;
    this.session = session;
    this.watch(session, api);
  }

  /**
   * A page may send no request for as long as it is open (an admin's entity page, a verification, the compliance forms, an admin's
   * overview hold no event stream): the session ends at the token's expiry all the same, and a revocation is found
   * within a minute while the tab is visible (session-watch.ts).
   */
  private watch(session: Session, api: Api): void {
    this.stopWatch?.();
    this.stopWatch = watchSession({
      ...(session.expiresAt !== undefined ? { expiresAt: session.expiresAt } : {}),
      onExpired: () => this.signOut(`Signed out: the token expired${session.expiresAt === undefined ? '' : ` at ${session.expiresAt.toISOString()}`}; sign in with a new one.`),
      check: (signal) => api.checkToken(signal),
      visibility: documentVisibility,
    });
  }

  private signOut(message?: string): void {
    this.stopWatch?.();
    this.stopWatch = undefined;
    clearSession();
    this.session = undefined;
    this.api = undefined;
    this.signInError = message;
    this.signInNotice = undefined;
    this.tokenRefused = false;
    // The page that held focus is gone: without this it fell to <body> (review 181). The token field is where the
    // user goes next, and it is described by the reason (aria-describedby), so a screen reader says why.
    void this.updateComplete.then(() => this.querySelector<HTMLElement>('#token')?.focus());
  }

  /**
   * The Sign out button: the tab forgets the token at once, and the server is asked to revoke it, so that a copy (a
   * shared machine's memory, a screenshot) is good for nothing. When the server cannot, the page says the token
   * stays valid until it expires and how to end it.
   */
  private async signOutEverywhere(): Promise<void> {
    const api = this.api;
    const session = this.session;
    this.signOut();
    if (api === undefined || session === undefined) return;
    try {
      await api.signOut();
      this.signInNotice = 'Signed out: the server revoked the token.';
    } catch (error) {
      // Its id, never the token: the message stays on the screen (review 212: a server that never answered said nothing).
      const until = session.expiresAt === undefined ? 'until it expires' : `until ${session.expiresAt.toISOString()}`;
      const how = session.tokenId === undefined ? 'an admin can revoke it (credence token list shows its id)' : `credence token revoke ${session.tokenId}`;
      this.signInError = `Signed out of this tab, but the server could not revoke the token (${describeError(error)}): it stays valid ${until} or until it is revoked: ${how}.`;
    }
  }

  /**
   * The token is checked with the server before it is kept: 401 refuses it; a 403 still signs in (a role that reads
   * less). Within REQUEST_TIMEOUT_MS, as every request: a server that never answered left "Checking…" for ever (review 212).
   */
  private async signIn(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const input = form.elements.namedItem('token') as HTMLTextAreaElement;
    const parsed = parseToken(input.value);
    if (!parsed.ok) {
      this.signInError = parsed.message;
      this.tokenRefused = true;
      return;
    }
    this.checking = true;
    this.tokenRefused = false;
    this.signInError = undefined;
    this.signInNotice = undefined;
    try {
      const response = await fetch('/v1/compliance', {
        headers: { authorization: `Bearer ${parsed.session.token}` },
        cache: 'no-store',
        credentials: 'omit',
        referrerPolicy: 'no-referrer',
        signal: bounded('/v1/compliance', REQUEST_TIMEOUT_MS, undefined),
      });
      if (response.status === 401) {
        // Only a problem document's detail is shown: a proxy's page or another server's body is not repeated.
        const { detail } = await problemOf(response);
        this.tokenRefused = true;
        this.signInError = `The server refused this token (401 Unauthorized${detail ? `: ${visibleText(detail)}` : ''}).`;
        return;
      }
      if (!response.ok && response.status !== 403) {
        // In the server's words, with the wait it asks for: "try again" alone left a 429 or 503 unexplained (review 152).
        const error = await apiErrorOf(response, '/v1/compliance');
        const wait = error.retryAfterMs === undefined || !Number.isFinite(error.retryAfterMs) ? '' : ` in ${waitText(error.retryAfterMs)}`;
        this.signInError = `The server could not check the token (HTTP ${response.status}, ${describeError(error)}); try again${wait}.`;
        return;
      }
      input.value = '';
      saveSession(parsed.session);
      this.use(parsed.session);
      // The form that held focus is gone: without this it fell to <body> (review 277). As after a navigation (onHash).
      void this.updateComplete.then(() => this.querySelector<HTMLElement>('main h2')?.focus());
    } catch (error) {
      this.signInError =
        error instanceof TimedOut
          ? `The server did not answer within ${waitText(error.timeoutMs)}: the token was not checked; try again.`
          : `The server could not be reached: ${describeError(error)}`;
    } finally {
      this.checking = false;
    }
  }

  private renderSignIn() {
    return html`<main class="sign-in" id="main">
      <h1>Credence audit console</h1>
      <form @submit=${(e: SubmitEvent) => this.signIn(e)} novalidate>
        <label for="token">Bearer token</label>
        <textarea id="token" name="token" rows="4" autocomplete="off" spellcheck="false" required
          aria-invalid=${this.tokenRefused ? 'true' : 'false'}
          aria-describedby="token-help ${this.signInError ? 'token-error' : ''}"></textarea>
        <p id="token-help" class="help">
          Paste an API token (<code>credence token create --role auditor --ttl 1h …</code>). It is kept in this tab's session storage
          only and sent to this server in the Authorization header. Closing the tab does not revoke it (a reopened tab can
          bring it back): use Sign out, which asks the server to revoke it.
        </p>
        ${this.signInError ? html`<p id="token-error" class="error" role="alert">${this.signInError}</p>` : nothing}
        ${this.signInNotice ? html`<p class="notice" role="status" data-testid="sign-in-notice">${this.signInNotice}</p>` : nothing}
        <button type="submit" ?disabled=${this.checking}>${this.checking ? 'Checking…' : 'Sign in'}</button>
      </form>
    </main>`;
  }

  private renderPage(session: Session, api: Api) {
    const route = this.route;
    switch (route.page) {
      case 'overview':
        return html`<fleet-overview .api=${api} .session=${session}></fleet-overview>`;
      case 'entity':
        return html`<entity-view .api=${api} .session=${session} .kind=${route.kind ?? 'node'} .entityId=${route.id} .listPages=${(route.pages ?? []).join('.')}></entity-view>`;
      case 'verify':
        return html`<evidence-verify .api=${api} .session=${session} .kind=${route.kind ?? 'node'} .entityId=${route.id}></evidence-verify>`;
      case 'compliance':
        return html`<compliance-queries .api=${api} .session=${session}></compliance-queries>`;
      case 'feed':
        return html`<event-feed .api=${api} .session=${session}></event-feed>`;
    }
  }

  override render() {
    const session = this.session;
    const api = this.api;
    if (session === undefined || api === undefined) return this.renderSignIn();
    return html`<a class="skip" href="#main" @click=${(e: Event) => {
        e.preventDefault();
        this.querySelector<HTMLElement>('main h2')?.focus();
      }}>Skip to content</a>
      <header>
        <h1 class="brand">${APP_TITLE}</h1>
        <nav aria-label="Pages">
          ${PAGES.map((p) => html`<a href="#/${p.page}" aria-current=${p.page === this.route.page ? 'page' : 'false'}>${p.label}</a>`)}
        </nav>
        <span class="who" data-testid="who">${visibleText(session.subject)} <span class="role">${session.role}</span></span>
        <button type="button" class="secondary" @click=${() => void this.signOutEverywhere()}>Sign out</button>
      </header>
      <main id="main">${this.renderPage(session, api)}</main>`;
  }
}
