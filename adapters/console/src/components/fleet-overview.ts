import { html, nothing } from 'lit';
import { ApiError, describeError, pathWith, worthRetrying } from '../api.ts';
import { waitText } from '../retry-after.ts';
import { EntityCounts, ExpiringRows, FleetVerdict, RevocationRows, type EntityCounts as FleetCounts, type ExpiringRows as Expiring, type RevocationRows as Revoked } from '../schemas.ts';
import { followEvents, positionOfEventId, type StreamEvent, type StreamStatus } from '../sse.ts';
import { ConsolePage, IDLE, LOADING, renderLoad, type Load } from './base.ts';
import { askedWaitMs } from '../asked-wait.ts';
import { BEHIND_REFRESH_MS, MAX_BEHIND_REFRESH_MS, ReadAgainWhileBehind } from '../read-again.ts';
import { visibleText } from '../visible-text.ts';
import { streamStatusText } from './stream-status.ts';
import { EXPIRING_DAYS, expiringTable, REVOKED_DAYS, revokedTable } from './overview-tables.ts';

const KINDS = [
  ['node', 'Nodes'],
  ['credential', 'Credentials'],
  ['application', 'Applications (App-ID)'],
  ['association', 'Security associations'],
] as const;
const RECENT = 10;
/** Events arrive in bursts (a cascade): one refresh after a quiet moment, and at least this often while they flow. */
const REFRESH_QUIET_MS = 250;
const REFRESH_MAX_MS = 2_000;
/**
 * While events flow, the next refresh waits this many times as long as the last one took, so that an open overview
 * keeps the server busy a fifth of the time at most (the counts are one grouped read; the compliance lists are not).
 */
const REFRESH_SPACING = 4;

/** The page's three reads, and what each is called where the page says it could not refresh it. */
type Part = 'fleet' | 'expiring' | 'revoked';
const PARTS: Readonly<Record<Part, string>> = { fleet: 'the fleet counts', expiring: 'expiring credentials', revoked: 'recent revocations' };

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
    logChanged: { state: true },
    stale: { state: true },
    retryInMs: { state: true },
  };
  declare fleet: Load<FleetCounts>;
  declare verdict: Load<FleetVerdict>;
  declare expiring: Load<Expiring>;
  declare revoked: Load<Revoked>;
  declare stream: StreamStatus | undefined;
  /** True when the role may read none of the page: no event stream is held for it. */
  declare unfollowed: boolean;
  declare lastEvent: StreamEvent | undefined;
  /** The server refused to resume as its log is another one than was followed: the page follows the new one. */
  declare logChanged: boolean;
  /** Why the last refresh of each part still shown as read before failed (review 152: one 503 wiped the counts). */
  declare stale: Readonly<Partial<Record<Part, unknown>>>;
  /** When a read failed in a way a later try may not: the page reads again after this wait. */
  declare retryInMs: number | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Refreshes that failed in a row: each doubles the wait before the next. */
  private failuresInRow = 0;
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
    this.logChanged = false;
    this.stale = {};
    this.retryInMs = undefined;
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
        // Another store answers at this address (review 192): the overview needs no history, so it follows the new
        // log from now by itself and reads its counts again; the old log's last event means nothing there. Its new
        // stream starts with no resume point, so it cannot be refused so again before it has followed the new log.
        if (status.state === 'otherLog') {
          this.lastEvent = undefined;
          this.logChanged = true;
          this.scheduleRefresh();
          if (!signal.aborted) this.follow(signal);
          return;
        }
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
    clearTimeout(this.retryTimer);
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
    clearTimeout(this.retryTimer);
    const failures: unknown[] = [];
    const stale: Partial<Record<Part, unknown>> = {};
    // A failed read keeps what the last good one showed, marked as such, rather than putting the error in its place.
    const settle = async <T>(part: Part, promise: Promise<T>, last: Load<T>, set: (load: Load<T>) => void): Promise<void> => {
      try {
        set({ state: 'ok', value: await promise });
      } catch (error) {
        if (signal?.aborted) return;
        failures.push(error);
        if (last.state === 'ok') stale[part] = error;
        else set({ state: 'error', error });
      }
    };
    await Promise.all([
      settle('fleet', noting(this.api.jsonBehind('/v1/entities/counts', EntityCounts, signal)), this.fleet, (l) => (this.fleet = l)),
      settle('expiring', noting(this.api.jsonBehind(pathWith('/v1/compliance/expiring', { days: String(EXPIRING_DAYS) }), ExpiringRows, signal)), this.expiring, (l) => (this.expiring = l)),
      // The newest first, from the server: the first page of a window in log order held its oldest (found in review).
      settle(
        'revoked',
        noting(this.api.jsonBehind(pathWith('/v1/compliance/revocations', { from: since, order: 'newest', limit: String(RECENT) }), RevocationRows, signal)),
        this.revoked,
        (l) => (this.revoked = l),
      ),
    ]);
    if (signal?.aborted) return;
    this.stale = stale;
    this.behind.after(eventsBehind > 0, () => void this.refresh(), REFRESH_SPACING * this.lastRefreshMs);
    this.retryAfterFailures(failures);
  }

  /**
   * After a refresh that failed in a way a later try may not (a 503 while the service restarts, a 429): read again
   * after the server's Retry-After or the backoff (2 s, doubled each failure in a row), whichever is longer, up to a
   * minute; nothing else would, on a quiet fleet or without an event stream.
   */
  private retryAfterFailures(failures: readonly unknown[]): void {
    const again = failures.filter(worthRetrying);
    if (again.length === 0) {
      this.failuresInRow = 0;
      this.retryInMs = undefined;
      return;
    }
    this.failuresInRow += 1;
    const backoff = BEHIND_REFRESH_MS * 2 ** Math.min(this.failuresInRow - 1, 5);
    const wait = Math.min(MAX_BEHIND_REFRESH_MS, Math.max(backoff, askedWaitMs(again)));
    this.retryInMs = wait;
    this.retryTimer = setTimeout(() => void this.refresh(), wait);
  }

  /**
   * Replays every stored event through its machine: on demand, since it reads the whole store. `full=true`: without it
   * the server verifies only the events appended since its previous verdict (review 152).
   */
  private async checkTransitions(): Promise<void> {
    const signal = this.abort?.signal;
    this.verdict = LOADING;
    try {
      const verdict = await this.api.json('/v1/replay?limit=0&full=true', FleetVerdict, signal);
      this.verdict = { state: 'ok', value: verdict };
    } catch (error) {
      if (!signal?.aborted) this.verdict = { state: 'error', error };
    }
  }

  private renderVerdict() {
    // One button, kept in place while the check runs (aria-disabled, as the pager's): removed and made anew, it
    // dropped the keyboard's focus to <body> (review 388). The verdict is said in a live region beside it.
    const running = this.verdict.state === 'loading';
    const button = html`<button type="button" class="secondary" data-testid="check-transitions" aria-disabled=${running ? 'true' : 'false'}
      @click=${() => void (running || this.checkTransitions())}>
      ${this.verdict.state === 'ok' ? 'Check again' : 'Check every stored transition'}</button>`;
    return html`<div class="meta" data-testid=${this.verdict.state === 'idle' ? nothing : 'verdict'}>
      <div>${renderLoad(this.verdict, this.session.role, 'the replay verdict', (v) =>
        // The verdict's own status: renderLoad says the wait and a failure in live regions of its own, which a status
        // around them would nest (review 391).
        html`<p role="status">${v.mode === 'full'
            ? `All ${v.events} stored events replayed through their machines now`
            : `${v.verifiedNow} new events replayed through their machines now, ${v.events - v.verifiedNow} verified by an earlier check`}:
          ${v.ok ? html`<span class="ok">every stored transition is legal</span>` : renderFindings(v)}.</p>`,
        // The server's wait is said and Retry offered, as docs/console.md says of every failed read (review 248).
        () => void this.checkTransitions(),
      )}</div>
      ${button}</div>`;
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

  /** Above a part whose last refresh failed: what is shown was read before, and why it was not read again. */
  private renderStale(part: Part) {
    const error = this.stale[part];
    return error === undefined
      ? nothing
      : html`<p class="warning" role="status" data-testid="stale-${part}">Could not refresh ${PARTS[part]} (${describeError(error)}): shown as last read.</p>`;
  }

  /**
   * After any failed read but a refusal (which no retry changes): when the page reads again, and a button to read now.
   * Not when the status line offers the button already (a role refused the event stream).
   */
  private renderFailed(offered: boolean) {
    const failed = (Object.keys(PARTS) as Part[]).some((part) => this.stale[part] !== undefined || (this[part].state === 'error' && !isRefused(this[part])));
    if (!failed || offered) return nothing;
    return html`<p class="meta" role="status" data-testid="refresh-failed">
      ${this.retryInMs !== undefined ? `A read failed: the page reads again in ${waitText(this.retryInMs)}.` : 'A read failed.'}
      <button type="button" class="secondary" @click=${() => this.refreshNow()}>Refresh now</button></p>`;
  }

  /**
   * Refresh now, from the button a failure offers: once a read succeeds the button goes with the failure, so the
   * keyboard's focus moves to the page's heading rather than falling to the body (review 157).
   */
  private refreshNow(): void {
    void this.refresh().then(async () => {
      await this.updateComplete;
      if (this.renderRoot.querySelector('[data-testid="refresh-failed"]') === null) this.renderRoot.querySelector<HTMLElement>('h2')?.focus();
    });
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
              ? `Live updates are not available to the role ${role}: ${visibleText(stream.error.problem.detail ?? 'refused')}.`
              : streamStatusText(stream)} <button type="button" class="secondary" @click=${() => this.refresh()}>Refresh now</button>`
          : streamStatusText(stream)}
        ${this.lastEvent ? html`<span class="last-event">Last event: ${this.lastEvent.type} @${positionOfEventId(this.lastEvent.id)}</span>` : nothing}
      </p>
      ${this.logChanged
        ? html`<p class="meta" role="status" data-testid="log-changed">The server's event log changed (another store answers at this address): the counts were read again, and live updates follow the new log from now.</p>`
        : nothing}
      ${this.renderFailed(stream?.state === 'refused' && !this.unfollowed)}
      ${this.renderStale('fleet')}${renderLoad(this.fleet, role, PARTS.fleet, (fleet) => this.renderCounts(fleet))}
      <div class="columns">
        <section aria-labelledby="expiring-heading">
          <h3 id="expiring-heading">Expiring within ${EXPIRING_DAYS} days</h3>
          ${this.renderStale('expiring')}${renderLoad(this.expiring, role, PARTS.expiring, (rows) => expiringTable(rows))}
        </section>
        <section aria-labelledby="revoked-heading">
          <h3 id="revoked-heading">Recently revoked</h3>
          ${this.renderStale('revoked')}${renderLoad(this.revoked, role, PARTS.revoked, (rows) => revokedTable(rows))}
        </section>
      </div>`;
  }
}

const isRefused = (load: Load<unknown>): boolean => load.state === 'error' && load.error instanceof ApiError && load.error.refused;

/**
 * The refused transitions, those by a rule newer than their stored event and those that follow from them (the server
 * counts both) apart and not red: since an upgrade to machines that judge by a new rule they are flagged at every
 * check, and read as broken histories an operator could do nothing about nor tell from new ones (review 168).
 */
const renderFindings = (v: FleetVerdict) => {
  const newer = v.findingsByNewerRules;
  if (newer === 0) return html`<span class="bad">${v.findingsTotal} refused transitions (broken histories)</span>`;
  // Those that only follow from a newer-rule finding (its credential left unrecorded, then revoked) are its effects,
  // worded with it: counted as broken histories they read as tampering.
  const following = v.findingsFollowingNewerRules;
  const note = `${newer} by rules newer than the stored events${following > 0 ? ` and ${following} that follow from them` : ''}: see Upgrading in docs/service.md`;
  const broken = v.findingsTotal - newer - following;
  if (broken <= 0) return html`<span class="newer" data-testid="newer-rules">${v.findingsTotal} refused transitions (${note})</span>`;
  return html`${v.findingsTotal} refused transitions (<span class="newer" data-testid="newer-rules">${note}</span>;
    <span class="bad">${broken} in broken histories</span>)`;
};
