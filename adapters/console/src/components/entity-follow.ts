import { html, nothing } from 'lit';
import { z } from 'zod';
import { describeError, type Api } from '../api.ts';
import type { DependencyGraph, GraphNode } from '../dependencies.ts';
import type { Load } from './base.ts';
import { StreamEventData } from '../schemas.ts';
import { documentVisibility } from '../document-visibility.ts';
import type { Visibility } from '../session-watch.ts';
import { followEvents, streamsAllHeld, type StreamEvent, type StreamStatus } from '../sse.ts';
import { visibleText } from '../visible-text.ts';

/** Events come in bursts (a cascade): one read after a quiet moment, and at least this often while they flow (as the overview). */
const READ_QUIET_MS = 250;
const READ_MAX_MS = 2_000;

/** The event's payload, for the ids it names (a credential issued for a node names the node). */
const Payload = z.object({ data: z.record(z.string(), z.unknown()).optional() });

/**
 * Whether `event` is of one of `streamIds` (the entity's, its dependents' shown), or names `entityId` in its payload,
 * as an event that adds a dependent does. An id shared by two kinds costs a read again, nothing more.
 */
export const touches = (event: StreamEvent, streamIds: ReadonlySet<string>, entityId: string): boolean => {
  const parsed = StreamEventData.safeParse(event.data ?? {});
  if (parsed.success && parsed.data.streamId !== undefined && streamIds.has(parsed.data.streamId)) return true;
  const payload = Payload.safeParse(event.data ?? {});
  return payload.success && Object.values(payload.data.data ?? {}).some((value) => value === entityId);
};

/** The streams of the entity and of its dependents shown: an event of one of them reads the page again. */
export const shownStreams = (kind: string, id: string, graph: Load<DependencyGraph>): Set<string> => {
  const streams = new Set([`${kind}-${id}`]);
  const walk = (node: GraphNode): void => {
    streams.add(`${node.entity.kind}-${node.entity.id}`);
    node.children.forEach(walk);
  };
  if (graph.state === 'ok') walk(graph.value.root);
  return streams;
};

export interface FollowOptions {
  /** The page's API client (set after the page is made). */
  readonly api: () => Api;
  /** Whether an event is of the entity or of something shown as depending on it. */
  readonly touches: (event: StreamEvent) => boolean;
  /**
   * Reads the entity, its timeline's end and its dependents again; true when the entity was read, throws why not.
   * `changed`: an event of it came, or the user asked (not only the stream going live).
   */
  readonly readAgain: (changed: boolean) => Promise<boolean>;
  /** Something shown changed (the stream's status, the instant read). */
  readonly changed: () => void;
  /** Whether the tab is shown, and when that changes: the document's by default. */
  readonly visibility?: Visibility;
}

/**
 * An entity's page following the event stream (review 300: it said "Now <state>" for ever after reading once). One
 * stream per page (the server caps them per principal), from now: an event of the entity or of a dependent shown
 * reads the page again, a burst once, one read at a time; the page is also read again each time the stream goes live,
 * for what was appended while it was not. Whether the role may read the stream is the server's to say, as on the
 * overview: a refusal, or an interruption, leaves the page "as read at" its last read, with Read again.
 *
 * The page can do without a stream, so it holds none it does not use (review 304: four entity tabs took all four of
 * the principal's streams, and Live events or the overview in a fifth, or the operator's CLI, was refused): a hidden
 * tab's page releases its stream and, shown again, reads the page again and follows again; and one the server answers
 * 429 too_many_streams is "as read at" with why and Read again, which tries once more, rather than trying again by itself.
 */
export class EntityFollow {
  status: StreamStatus | undefined = undefined;
  /** When the entity was last read: what the page is "as read at" while it does not follow the stream. */
  readAt: Date | undefined = undefined;
  /** Why the last read again after an event failed: the page is as read before it. */
  failure: unknown = undefined;
  /** From `start` to `stop`: the entity's page, which reads are of. */
  #session: AbortController | undefined;
  /** The stream held for the page (none while the tab is hidden). */
  #stream: AbortController | undefined;
  /** The tab is hidden: the page holds no stream until it is shown. */
  #hidden = false;
  #stopWatching: (() => void) | undefined;
  #quiet: ReturnType<typeof setTimeout> | undefined;
  #firstPending: number | undefined;
  #reading: Promise<void> | undefined;
  #again = false;
  /** An event of the entity or a dependent came since the last read began, or the user asked for one. */
  #changed = false;
  /** The stream was interrupted (or refused, or ended) since it was last live. */
  #interrupted = false;

  constructor(private readonly options: FollowOptions) {}

  private get visibility(): Visibility {
    return this.options.visibility ?? documentVisibility;
  }

  /** Whether a stream is held (or being set up) for the page. */
  get following(): boolean {
    return this.#stream !== undefined && !this.#stream.signal.aborted;
  }

  /**
   * "Now" only while the stream is live, or being set up for the first time (the page is read again once it is live),
   * and no read after an event failed. Setting it up again after an interruption is not live yet.
   */
  get current(): boolean {
    const state = this.status?.state;
    // Not started yet: the entity was just read, and the stream is started once its timeline is too.
    if (this.#session === undefined) return this.failure === undefined;
    const settingUp = !this.#interrupted && (state === undefined || state === 'connecting');
    return this.following && (state === 'live' || settingUp) && this.failure === undefined;
  }

  /** Starts following, from now, until `stop` (another entity, leaving the page); a hidden tab's once it is shown. */
  start(): void {
    this.stop();
    this.#session = new AbortController();
    this.#stopWatching = this.visibility.onChange(() => this.#visibilityChanged());
    if (this.visibility.hidden()) this.#release();
    else this.#open();
  }

  /** A stream from now, in place of any held. */
  #open(): void {
    this.#stream?.abort();
    const stream = new AbortController();
    this.#stream = stream;
    const own = stream.signal;
    this.status = undefined;
    followEvents(this.options.api(), {
      query: 'from=end',
      signal: own,
      yieldWhenStreamsAreHeld: true,
      onStatus: (status) => {
        if (own.aborted) return;
        // Another store answers at this address: the page needs no history, so it follows the new log from now and is
        // read again, as the overview does (review 192).
        if (status.state === 'otherLog') {
          this.#open();
          this.schedule();
          return;
        }
        const wasLive = this.status?.state === 'live';
        if (status.state === 'live') this.#interrupted = false;
        else if (status.state !== 'connecting') this.#interrupted = true;
        this.status = status;
        this.options.changed();
        if (status.state === 'live' && !wasLive) this.schedule();
      },
      onEvent: (event) => {
        if (own.aborted || !this.options.touches(event)) return;
        this.#changed = true;
        this.schedule();
      },
    });
  }

  stop(): void {
    this.#session?.abort();
    this.#session = undefined;
    this.#stream?.abort();
    this.#stream = undefined;
    this.#stopWatching?.();
    this.#stopWatching = undefined;
    this.#hidden = false;
    clearTimeout(this.#quiet);
    this.#firstPending = undefined;
    this.status = undefined;
    this.failure = undefined;
    this.#interrupted = false;
  }

  /** The stream refused for good (the role, a revoked token): neither hiding nor showing the tab changes that. */
  get #refusedForGood(): boolean {
    const status = this.status;
    return status?.state === 'ended' || (status?.state === 'refused' && !streamsAllHeld(status.error));
  }

  #visibilityChanged(): void {
    if (this.#session === undefined || this.#refusedForGood) return;
    const hidden = this.visibility.hidden();
    if (hidden === this.#hidden) return;
    if (hidden) {
      this.#release();
    } else {
      // Shown again: what changed while it was hidden came on no stream, the entity's dependents' changes included, so
      // the whole page is read again, once the new stream is live (or refused) if that is within the quiet moment.
      this.#hidden = false;
      this.#changed = true;
      this.#open();
      this.schedule();
    }
    this.options.changed();
  }

  /** The tab is hidden: its stream is left to the pages and clients that need one, and no read is made meanwhile. */
  #release(): void {
    this.#hidden = true;
    this.#stream?.abort();
    this.#stream = undefined;
    this.status = undefined;
    // Not "Now" again until a stream is live once it is shown.
    this.#interrupted = true;
    clearTimeout(this.#quiet);
    this.#firstPending = undefined;
  }

  /** The entity was read (on opening, Retry): the time the page says while it does not follow. */
  read(at = new Date()): void {
    this.readAt = at;
    this.failure = undefined;
  }

  /**
   * "Read again": now, whatever the stream. The streams it was refused as all held elsewhere, it asks for one once
   * more: the user asked, so this is no loop.
   */
  readNow(): Promise<void> {
    clearTimeout(this.#quiet);
    this.#firstPending = undefined;
    this.#changed = true;
    const status = this.status;
    if (this.#session !== undefined && !this.#hidden && status?.state === 'refused' && streamsAllHeld(status.error)) this.#open();
    return this.#read(this.#session?.signal ?? AbortSignal.abort());
  }

  private schedule(): void {
    const signal = this.#session?.signal;
    // A hidden tab reads nothing (a read under way may ask for one more): what is left is read once it is shown.
    if (signal === undefined || signal.aborted || this.#hidden) return;
    const now = Date.now();
    this.#firstPending ??= now;
    clearTimeout(this.#quiet);
    this.#quiet = setTimeout(() => {
      this.#firstPending = undefined;
      void this.#read(signal);
    }, Math.max(0, Math.min(READ_QUIET_MS, this.#firstPending + READ_MAX_MS - now)));
  }

  /** One read at a time; events that came during it read once more after it. */
  #read(signal: AbortSignal): Promise<void> {
    if (this.#reading !== undefined) {
      this.#again = true;
      return this.#reading;
    }
    this.#reading = (async () => {
      try {
        const changed = this.#changed;
        this.#changed = false;
        const read = await this.options.readAgain(changed);
        if (signal.aborted) return;
        if (read) this.read();
      } catch (error) {
        if (!signal.aborted) this.failure = error;
      }
    })().finally(() => {
      this.#reading = undefined;
      this.options.changed();
      if (this.#again && !signal.aborted) {
        this.#again = false;
        this.schedule();
      }
    });
    return this.#reading;
  }

  /** What the heading says the state is as of: "Now" while the page follows the stream, else the time of its last read (UTC, as every time the console shows). */
  renderWhen() {
    if (this.current) return 'Now';
    const at = this.readAt ?? new Date();
    return html`<span data-testid="as-read-at">As read at <time datetime=${at.toISOString()}>${at.toISOString().slice(11, 16)}</time> UTC:</span>`;
  }

  /** After the heading's sentence, when it is not "Now": why, and Read again. */
  renderNotFollowed(readAgain: () => void) {
    if (this.current) return nothing;
    const why = this.failure !== undefined ? `the last read after a change failed: ${describeError(this.failure)}` : this.#whyNotFollowing();
    return html`<span class="meta" data-testid="not-followed">It may have changed since: ${why}.</span>
      <button type="button" class="secondary" @click=${readAgain}>Read again</button>`;
  }

  #whyNotFollowing(): string {
    if (this.#hidden) return 'changes are not followed while this tab is hidden: its event stream is left to other pages and clients, and taken again once the tab is shown';
    const status = this.status;
    switch (status?.state) {
      case 'refused':
        if (streamsAllHeld(status.error)) {
          return `changes are not followed: every event stream the server allows is held, by other pages or clients of this token or, past the service's own cap, by others (${status.error.status}${status.error.problem.detail ? `: ${visibleText(status.error.problem.detail)}` : ''}); this page does not wait for one, so that the pages that need a stream get it`;
        }
        return `changes are not followed: the server refused the event stream (${status.error.status}${status.error.problem.detail ? `: ${visibleText(status.error.problem.detail)}` : ''})`;
      case 'reconnecting':
        return `changes are not followed while the event stream is interrupted (${visibleText(status.why)})`;
      case 'ended':
        return `changes are not followed: the event stream ended (${visibleText(status.why)})`;
      default:
        return 'changes are not followed, as no event stream is held for this page';
    }
  }
}
