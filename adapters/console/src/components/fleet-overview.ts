import { html, nothing } from 'lit';
import { ApiError, pathWith } from '../api.ts';
import { entityHref, streamHref } from '../router.ts';
import { EntityCounts, ExpiringRows, FleetVerdict, RevocationRows, type EntityCounts as FleetCounts, type ExpiringRows as Expiring, type RevocationRows as Revoked } from '../schemas.ts';
import { followEvents, type StreamEvent, type StreamStatus } from '../sse.ts';
import { ConsolePage, formatTime, IDLE, LOADING, renderBehind, renderLoad, type Load } from './base.ts';
import { ReadAgainWhileBehind } from '../read-again.ts';
import { streamStatusText } from './stream-status.ts';
import { visibleText } from '../visible-text.ts';

const KINDS = [
  ['node', 'Nodes'],
  ['credential', 'Credentials'],
  ['application', 'Applications (App-ID)'],
  ['association', 'Security associations'],
] as const;
const EXPIRING_DAYS = 30;
const REVOKED_DAYS = 30;
const RECENT = 10;
/** Events arrive in bursts (a cascade): one refresh after a quiet moment, and at least this often while they flow. */
const REFRESH_QUIET_MS = 250;
const REFRESH_MAX_MS = 2_000;
/**
 * While events flow, the next refresh waits this many times as long as the last one took, so that an open overview
 * keeps the server busy a fifth of the time at most (the counts are one grouped read; the compliance lists are not).
 */
const REFRESH_SPACING = 4;

/**
 * Counts by kind and state (GET /v1/entities/counts), expiring and recently revoked credentials, kept live by the
 * event stream. The replay verdict (GET /v1/replay, which reads the whole store) runs only when asked for.
 */
export class FleetOverview extends ConsolePage {
  static override properties = {
    ...ConsolePage.properties,
    fleet: { state: true },
    verdict: { state: true },
    expiring: { state: true },
    revoked: { state: true },
    stream: { state: true },
    unfollowed: { state: true },
    lastEvent: { state: true },
  };
  declare fleet: Load<FleetCounts>;
  declare verdict: Load<FleetVerdict>;
  declare expiring: Load<Expiring>;
  declare revoked: Load<Revoked>;
  declare stream: StreamStatus | undefined;
  /** True when the role may read none of the page: no event stream is held for it. */
  declare unfollowed: boolean;
  declare lastEvent: StreamEvent | undefined;
  private abort: AbortController | undefined;
  private quiet: ReturnType<typeof setTimeout> | undefined;
  private firstPending: number | undefined;
  /** One refresh at a time: a slower, older answer must never overwrite a newer one. */
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;
  private lastRefreshMs = 0;
  private lastRefreshEnd = 0;
  private readonly behind = new ReadAgainWhileBehind();

  constructor() {
    super();
    this.fleet = IDLE;
    this.verdict = IDLE;
    this.expiring = IDLE;
    this.revoked = IDLE;
    this.stream = undefined;
    this.unfollowed = false;
    this.lastEvent = undefined;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    this.abort = new AbortController();
    this.fleet = LOADING;
    this.expiring = LOADING;
    this.revoked = LOADING;
    const signal = this.abort.signal;
    // After the first reads: a role refused all three (an integrator) would hold one of its few event streams, and one
    // of the service's pseudonymised ones, only to be refused them again at each event (review 113). What is appended
    // meanwhile is read once the stream is live.
    void this.refresh().then(() => {
      if (signal.aborted) return;
      if ([this.fleet, this.expiring, this.revoked].every(isRefused)) {
        this.unfollowed = true;
        return;
      }
      this.follow(signal);
    });
  }

  private follow(signal: AbortSignal): void {
    followEvents(this.api, {
      query: 'from=end',
      signal,
      onStatus: (status) => {
        this.stream = status;
        // Back after a drop: what happened meanwhile is in the counts at once.
        if (status.state === 'live') this.scheduleRefresh();
      },
      onEvent: (event) => {
        this.lastEvent = event;
        this.scheduleRefresh();
      },
    });
  }

  override disconnectedCallback(): void {
    this.abort?.abort();
    clearTimeout(this.quiet);
    this.behind.reset();
    super.disconnectedCallback();
  }

  private scheduleRefresh(): void {
    const now = Date.now();
    this.firstPending ??= now;
    clearTimeout(this.quiet);
    const quiet = Math.min(REFRESH_QUIET_MS, this.firstPending + REFRESH_MAX_MS - now);
    const spaced = this.lastRefreshEnd + REFRESH_SPACING * this.lastRefreshMs - now;
    this.quiet = setTimeout(() => {
      this.firstPending = undefined;
      void this.refresh();
    }, Math.max(0, quiet, spaced));
  }

  /** Refreshes now, or once more right after the refresh in flight when events arrived meanwhile. */
  private refresh(): Promise<void> {
    if (this.refreshing !== undefined) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    const started = Date.now();
    this.refreshing = this.load().finally(() => {
      this.refreshing = undefined;
      this.lastRefreshEnd = Date.now();
      this.lastRefreshMs = this.lastRefreshEnd - started;
      if (this.refreshAgain && !this.abort?.signal.aborted) {
        this.refreshAgain = false;
        this.scheduleRefresh();
      }
    });
    return this.refreshing;
  }

  private async load(): Promise<void> {
    const signal = this.abort?.signal;
    const since = new Date(Date.now() - REVOKED_DAYS * 86_400_000).toISOString();
    // How far behind the store the read models answered, by the server's word (credence-events-behind, after its
    // brief wait): a head read after the counts is past their position under any steady write load (found in review).
    let eventsBehind = 0;
    const noting = async <T>(read: Promise<{ value: T; eventsBehind: number }>): Promise<T> => {
      const answer = await read;
      eventsBehind = Math.max(eventsBehind, answer.eventsBehind);
      return answer.value;
    };
    const settle = async <T>(promise: Promise<T>, set: (load: Load<T>) => void): Promise<void> => {
      try {
        set({ state: 'ok', value: await promise });
      } catch (error) {
        if (!signal?.aborted) set({ state: 'error', error });
      }
    };
    await Promise.all([
      settle(noting(this.api.jsonBehind('/v1/entities/counts', EntityCounts, signal)), (l) => (this.fleet = l)),
      settle(noting(this.api.jsonBehind(pathWith('/v1/compliance/expiring', { days: String(EXPIRING_DAYS) }), ExpiringRows, signal)), (l) => (this.expiring = l)),
      // The newest first, from the server: the first page of a window in log order held its oldest (found in review).
      settle(
        noting(this.api.jsonBehind(pathWith('/v1/compliance/revocations', { from: since, order: 'newest', limit: String(RECENT) }), RevocationRows, signal)),
        (l) => (this.revoked = l),
      ),
    ]);
    if (!signal?.aborted) this.behind.after(eventsBehind > 0, () => void this.refresh(), REFRESH_SPACING * this.lastRefreshMs);
  }

  /** Replays every stored event through its machine: on demand, since it reads the whole store. */
  private async checkTransitions(): Promise<void> {
    const signal = this.abort?.signal;
    this.verdict = LOADING;
    try {
      const verdict = await this.api.json('/v1/replay?limit=0', FleetVerdict, signal);
      this.verdict = { state: 'ok', value: verdict };
    } catch (error) {
      if (!signal?.aborted) this.verdict = { state: 'error', error };
    }
  }

  private renderVerdict() {
    const button = html`<button type="button" class="secondary" data-testid="check-transitions" @click=${() => this.checkTransitions()}>
      ${this.verdict.state === 'ok' ? 'Check again' : 'Check every stored transition'}</button>`;
    if (this.verdict.state === 'idle') return html`<p class="meta">${button}</p>`;
    return html`<div class="meta" data-testid="verdict">
      ${renderLoad(this.verdict, this.session.role, 'the replay verdict', (v) =>
        html`<p>${v.events} events replayed through their machines:
          ${v.ok ? html`<span class="ok">every stored transition is legal</span>` : html`<span class="bad">${v.findingsTotal} refused transitions (broken histories)</span>`}.</p>`,
      )}
      ${this.verdict.state === 'loading' ? nothing : button}</div>`;
  }

  /**
   * The entities of the cards, and those of the kinds no card shows, by kind: the server's total over every kind beside
   * the cards' did not add up (review 130: "21 entities in all" beside cards of 16).
   */
  private renderTotal(fleet: FleetCounts): string {
    const shown = KINDS.reduce((sum, [kind]) => sum + (fleet.kinds[kind]?.entities ?? 0), 0);
    const others = Object.entries(fleet.kinds)
      .filter(([kind, summary]) => !KINDS.some(([card]) => card === kind) && summary.entities > 0)
      .sort(([a], [b]) => a.localeCompare(b));
    const inCards = `${shown} ${shown === 1 ? 'entity' : 'entities'} of the kinds above`;
    if (others.length === 0) return inCards;
    const count = others.reduce((sum, [, summary]) => sum + summary.entities, 0);
    return `${inCards}, and ${count} of other kinds (${others.map(([kind, summary]) => `${kind}: ${summary.entities}`).join(', ')})`;
  }

  private renderCounts(fleet: FleetCounts) {
    return html`<div class="cards">
        ${KINDS.map(([kind, label]) => {
          const summary = fleet.kinds[kind];
          const states = Object.entries(summary?.states ?? {}).sort(([a], [b]) => a.localeCompare(b));
          return html`<section class="card" data-kind=${kind} aria-labelledby="count-${kind}">
            <h3 id="count-${kind}">${label}</h3>
            <p class="total"><span data-testid="total-${kind}">${summary?.entities ?? 0}</span> <span class="unit">in all</span></p>
            ${states.length === 0
              ? html`<p class="empty">None yet.</p>`
              : html`<table class="states">
                  <caption class="visually-hidden">${label} by state</caption>
                  <tbody>
                    ${states.map(
                      ([state, n]) => html`<tr>
                        <th scope="row"><span class="badge state-${state}">${state}</span></th>
                        <td data-testid="count-${kind}-${state}">${n}</td>
                      </tr>`,
                    )}
                  </tbody>
                </table>`}
          </section>`;
        })}
      </div>
      <p class="meta" data-testid="counts-position">
        ${this.renderTotal(fleet)}, as of position ${fleet.position ?? '(none yet)'}${fleet.head !== undefined && fleet.head !== fleet.position ? html` (the store is at ${fleet.head})` : nothing}.
      </p>
      ${this.renderVerdict()}`;
  }

  private renderExpiring({ rows, truncated, eventsBehind }: Expiring) {
    const behind = renderBehind(eventsBehind, 'this list');
    if (rows.length === 0) return html`${behind}<p class="empty">No live credential expires within ${EXPIRING_DAYS} days${eventsBehind > 0 ? ' as far as the read models know' : ''}.</p>`;
    const more = truncated
      ? html`<p class="warning" data-testid="expiring-truncated">The ${rows.length} that expire first are shown; more expire within ${EXPIRING_DAYS} days: run the <a href="#/compliance">expiring</a> query for all of them.</p>`
      : nothing;
    return html`${behind}${more}<table>
      <thead><tr><th scope="col">Credential</th><th scope="col">Owner</th><th scope="col">Not after</th><th scope="col">Status</th><th scope="col">Position</th></tr></thead>
      <tbody>
        ${rows.map(
          (r) => html`<tr>
            <td><a href=${entityHref('credential', r.credentialId)}>${r.credentialId}</a></td>
            <td>${r.owner.kind === 'node' ? html`<a href=${entityHref('node', r.owner.id)}>${r.owner.kind}:${r.owner.id}</a>` : `${r.owner.kind}:${r.owner.id}`}</td>
            <td>${formatTime(r.notAfter)}</td>
            <td>${r.status}</td>
            <td class="num">${r.position}</td>
          </tr>`,
        )}
      </tbody>
    </table>`;
  }

  private renderRevoked({ rows, truncated, eventsBehind }: Revoked) {
    const behind = renderBehind(eventsBehind, 'this list');
    if (rows.length === 0) return html`${behind}<p class="empty">Nothing revoked in the last ${REVOKED_DAYS} days${eventsBehind > 0 ? ' as far as the read models know' : ''}.</p>`;
    const more = truncated
      ? html`<p class="meta" data-testid="revoked-truncated">The ${rows.length} most recent are shown; more were revoked in the last ${REVOKED_DAYS} days: run the <a href="#/compliance">revocations</a> query for all of them.</p>`
      : nothing;
    return html`${behind}${more}<table>
      <thead><tr><th scope="col">Entity</th><th scope="col">Reason</th><th scope="col">When</th><th scope="col">Actor</th><th scope="col">Position</th></tr></thead>
      <tbody>
        ${rows.map((r) => {
          const href = streamHref(r.streamId);
          return html`<tr>
            <td>${href ? html`<a href=${href}>${r.streamId}</a>` : r.streamId}</td>
            <td>${visibleText(r.reason)}</td>
            <td>${formatTime(r.occurredAt)}</td>
            <td>${visibleText(r.actor)}</td>
            <td class="num">${r.position}</td>
          </tr>`;
        })}
      </tbody>
    </table>`;
  }

  override render() {
    const role = this.session.role;
    const stream = this.stream;
    return html`<h2 tabindex="-1">Fleet overview</h2>
      <p class="live" data-testid="live-status" data-state=${this.unfollowed ? 'unfollowed' : (stream?.state ?? 'connecting')} aria-live="polite">
        ${this.unfollowed
          ? html`No live updates: the role ${role} may read nothing on this page. The events it may follow are under <a href="#/feed">Live events</a>.`
          : stream?.state === 'refused'
          ? html`${stream.error.refused
              ? `Live updates are not available to the role ${role}: ${stream.error.problem.detail ?? 'refused'}.`
              : streamStatusText(stream)} <button type="button" class="secondary" @click=${() => this.refresh()}>Refresh now</button>`
          : streamStatusText(stream)}
        ${this.lastEvent ? html`<span class="last-event">Last event: ${this.lastEvent.type} @${this.lastEvent.id}</span>` : nothing}
      </p>
      ${renderLoad(this.fleet, role, 'the fleet counts', (fleet) => this.renderCounts(fleet))}
      <div class="columns">
        <section aria-labelledby="expiring-heading">
          <h3 id="expiring-heading">Expiring within ${EXPIRING_DAYS} days</h3>
          ${renderLoad(this.expiring, role, 'expiring credentials', (rows) => this.renderExpiring(rows))}
        </section>
        <section aria-labelledby="revoked-heading">
          <h3 id="revoked-heading">Recently revoked</h3>
          ${renderLoad(this.revoked, role, 'recent revocations', (rows) => this.renderRevoked(rows))}
        </section>
      </div>`;
  }
}

const isRefused = (load: Load<unknown>): boolean => load.state === 'error' && load.error instanceof ApiError && load.error.refused;
