import { html, nothing } from 'lit';
import { streamHref } from '../router.ts';
import { describeIssues, StreamEventData } from '../schemas.ts';
import { followEvents, positionOfEventId, type StreamEvent, type StreamStatus } from '../sse.ts';
import { ConsolePage, formatTime } from './base.ts';
import { streamStatusText } from './stream-status.ts';
import { visibleText } from '../visible-text.ts';

const KEEP = 200;

interface Shown {
  /** The event's position: its id without the tag, which is for resuming, not for reading. */
  readonly id: string;
  readonly type: string;
  readonly subject: string;
  readonly occurredAt?: string;
  readonly actor: string;
  /** Of a log the server no longer holds (its resume was refused as of another log): kept, said to be so. */
  readonly previous?: boolean;
}

/**
 * Canonical events (operators, auditors) and pseudonymous ones (integrators) both show as one row; an event whose
 * data does not match StreamEventData is not shown, and the page says which one and why.
 */
const shown = (event: StreamEvent): Shown | string => {
  const parsed = StreamEventData.safeParse(event.data ?? {});
  if (!parsed.success) return `Event ${positionOfEventId(event.id) || '(no id)'} (${visibleText(event.type)}) is not what this console expects (${describeIssues(parsed.error)}), so it is not shown.`;
  const d = parsed.data;
  const subject = d.streamId ?? (typeof d.subject === 'string' ? d.subject : d.subject !== undefined ? JSON.stringify(d.subject) : '');
  const actor = d.metadata?.actor ? `${d.metadata.actor.id ?? ''} (${d.metadata.actor.role ?? ''})` : (d.actorRole ?? '');
  const occurredAt = d.metadata?.occurredAt ?? d.occurredAt;
  return { id: positionOfEventId(event.id), type: event.type, subject, actor, ...(occurredAt !== undefined ? { occurredAt } : {}) };
};

/** The lifecycle event stream as it happens; integrators get the pseudonymised stream (the server decides). */
export class EventFeed extends ConsolePage {
  static override properties = {
    ...ConsolePage.properties,
    events: { state: true },
    unreadable: { state: true },
    status: { state: true },
    fromStart: { state: true },
    dropped: { state: true },
  };
  declare events: readonly Shown[];
  /** Why the last event that failed its schema was left out. */
  declare unreadable: string | undefined;
  declare status: StreamStatus | undefined;
  declare fromStart: boolean;
  /** Rows received and let go to keep the newest KEEP (review 300: the history replayed lost them without a word). */
  declare dropped: number;
  private abort: AbortController | undefined;

  constructor() {
    super();
    this.events = [];
    this.unreadable = undefined;
    this.status = undefined;
    this.fromStart = false;
    this.dropped = 0;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    this.follow();
  }

  override disconnectedCallback(): void {
    this.abort?.abort();
    super.disconnectedCallback();
  }

  private follow(): void {
    this.abort?.abort();
    this.abort = new AbortController();
    this.events = [];
    this.dropped = 0;
    this.unreadable = undefined;
    followEvents(this.api, {
      query: this.fromStart ? 'from=start' : 'from=end',
      signal: this.abort.signal,
      onStatus: (status) => {
        this.status = status;
        if (status.state === 'otherLog') this.offerToFollowAgain();
      },
      onEvent: (event) => {
        const row = shown(event);
        if (typeof row === 'string') this.unreadable = row;
        else {
          const rows = [row, ...this.events];
          if (rows.length > KEEP) this.dropped += rows.length - KEEP;
          this.events = rows.slice(0, KEEP);
        }
      },
    });
  }

  /**
   * The server's log is another one than this page followed (409 resume_point_not_in_log on a resume, review 192): the
   * page stops, as on any refusal, and the user chooses how to follow the new log. The rows read are kept, marked as
   * of the previous log, rather than cleared: they are what was being read, and clearing them would lose it without a
   * word; following again starts a new list, as the checkbox does.
   */
  private offerToFollowAgain(): void {
    this.events = this.events.map((row) => ({ ...row, previous: true }));
    void this.updateComplete.then(() => this.querySelector<HTMLElement>('[data-testid="follow-from-start"]')?.focus());
  }

  /** From a button of `offerToFollowAgain`: the checkbox says what was chosen, and focus goes to the heading as the button goes. */
  private followAgain(fromStart: boolean): void {
    this.fromStart = fromStart;
    this.follow();
    void this.updateComplete.then(() => this.querySelector<HTMLElement>('h2')?.focus());
  }

  private renderStatus(status: StreamStatus | undefined) {
    if (status?.state === 'otherLog') {
      return html`<span class="refused" role="alert">The server's event log is not the one this page was following; the rows below are from it.</span>
        <button type="button" data-testid="follow-from-start" @click=${() => this.followAgain(true)}>Follow again from the start</button>
        <button type="button" class="secondary" @click=${() => this.followAgain(false)}>Follow from now</button>`;
    }
    if (status?.state === 'refused') {
      return html`<span class="refused" role="alert">${status.error.refused
        ? `The server refused the event stream to the role ${this.session.role} (${status.error.status}): ${visibleText(status.error.problem.detail ?? '')}`
        : streamStatusText(status)}</span>`;
    }
    return streamStatusText(status);
  }

  override render() {
    const status = this.status;
    const pseudonymous = this.session.role === 'integrator';
    return html`<h2 tabindex="-1">Live events</h2>
      <p class="help">${pseudonymous
        ? 'As an integrator you receive the pseudonymised stream: node identities are replaced by rotating pseudonyms (SER-011, SER-018, SER-025).'
        : 'Every lifecycle event with canonical identifiers, newest first.'}</p>
      <div class="inline">
        <label><input type="checkbox" .checked=${this.fromStart} @change=${(e: Event) => {
          this.fromStart = (e.target as HTMLInputElement).checked;
          this.follow();
        }} /> Replay the history first</label>
      </div>
      <p class="live" data-testid="feed-status" data-state=${status?.state ?? 'connecting'} aria-live="polite">
        ${this.renderStatus(status)}
      </p>
      ${this.dropped > 0
        ? html`<p class="meta" role="status" data-testid="feed-capped">Only the newest ${KEEP} events are shown here: ${this.dropped} older
            ${this.dropped === 1 ? 'event received was' : 'events received were'} let go. The whole history is in
            <a href="#/compliance">Compliance queries</a> (each row with the position of the event that proves it), in
            <code>credence events --from start</code> on the command line, and in each entity's timeline on its page.</p>`
        : nothing}
      ${this.unreadable !== undefined ? html`<div class="error" role="alert" data-testid="feed-unreadable">${this.unreadable}</div>` : nothing}
      ${this.events.length === 0
        ? status?.state === 'refused' || status?.state === 'otherLog' ? nothing : html`<p class="empty">No event yet: they appear here as they happen.</p>`
        : html`<table data-testid="feed">
            <thead><tr><th scope="col">Position</th><th scope="col">Event</th><th scope="col">${pseudonymous ? 'Subject (pseudonymised)' : 'Stream'}</th><th scope="col">When</th><th scope="col">Actor</th></tr></thead>
            <tbody>${this.events.map((e) => {
              const href = pseudonymous ? undefined : streamHref(e.subject);
              return html`<tr class=${e.previous ? 'previous-log' : ''}><td class="num">${e.id}${e.previous ? html` <span class="previous">(previous log)</span>` : nothing}</td><td>${visibleText(e.type)}</td><td class="id">${href ? html`<a href=${href}>${visibleText(e.subject)}</a>` : visibleText(e.subject)}</td><td>${formatTime(e.occurredAt)}</td><td class="id">${visibleText(e.actor)}</td></tr>`;
            })}</tbody>
          </table>`}`;
  }
}
