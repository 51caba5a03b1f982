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
}

/**
 * Canonical events (operators, auditors) and pseudonymous ones (integrators) both show as one row; an event whose
 * data does not match StreamEventData is not shown, and the page says which one and why.
 */
const shown = (event: StreamEvent): Shown | string => {
  const parsed = StreamEventData.safeParse(event.data ?? {});
  if (!parsed.success) return `Event ${positionOfEventId(event.id) || '(no id)'} (${event.type}) is not what this console expects (${describeIssues(parsed.error)}), so it is not shown.`;
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
  };
  declare events: readonly Shown[];
  /** Why the last event that failed its schema was left out. */
  declare unreadable: string | undefined;
  declare status: StreamStatus | undefined;
  declare fromStart: boolean;
  private abort: AbortController | undefined;

  constructor() {
    super();
    this.events = [];
    this.unreadable = undefined;
    this.status = undefined;
    this.fromStart = false;
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
    this.unreadable = undefined;
    followEvents(this.api, {
      query: this.fromStart ? 'from=start' : 'from=end',
      signal: this.abort.signal,
      onStatus: (status) => (this.status = status),
      onEvent: (event) => {
        const row = shown(event);
        if (typeof row === 'string') this.unreadable = row;
        else this.events = [row, ...this.events].slice(0, KEEP);
      },
    });
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
        ${status?.state === 'refused'
          ? html`<span class="refused" role="alert">${status.error.refused
              ? `The server refused the event stream to the role ${this.session.role} (${status.error.status}): ${status.error.problem.detail ?? ''}`
              : streamStatusText(status)}</span>`
          : streamStatusText(status)}
      </p>
      ${this.unreadable !== undefined ? html`<div class="error" role="alert" data-testid="feed-unreadable">${this.unreadable}</div>` : nothing}
      ${this.events.length === 0
        ? status?.state === 'refused' ? nothing : html`<p class="empty">No event yet: they appear here as they happen.</p>`
        : html`<table data-testid="feed">
            <thead><tr><th scope="col">Position</th><th scope="col">Event</th><th scope="col">${pseudonymous ? 'Subject (pseudonymised)' : 'Stream'}</th><th scope="col">When</th><th scope="col">Actor</th></tr></thead>
            <tbody>${this.events.map((e) => {
              const href = pseudonymous ? undefined : streamHref(e.subject);
              return html`<tr><td class="num">${e.id}</td><td>${e.type}</td><td class="id">${href ? html`<a href=${href}>${e.subject}</a>` : e.subject}</td><td>${formatTime(e.occurredAt)}</td><td>${visibleText(e.actor)}</td></tr>`;
            })}</tbody>
          </table>`}`;
  }
}
