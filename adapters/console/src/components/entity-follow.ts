import { html, nothing } from 'lit';
import { z } from 'zod';
import { describeError, type Api } from '../api.ts';
import type { DependencyGraph, GraphNode } from '../dependencies.ts';
import type { Load } from './base.ts';
import { StreamEventData } from '../schemas.ts';
import { followEvents, type StreamEvent, type StreamStatus } from '../sse.ts';
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
}

/**
 * An entity's page following the event stream (review 300: it said "Now <state>" for ever after reading once). One
 * stream per page (the server caps them per principal), from now: an event of the entity or of a dependent shown
 * reads the page again, a burst once, one read at a time; the page is also read again each time the stream goes live,
 * for what was appended while it was not. Whether the role may read the stream is the server's to say, as on the
 * overview: a refusal, or an interruption, leaves the page "as read at" its last read, with Read again.
 */
export class EntityFollow {
  status: StreamStatus | undefined = undefined;
  /** When the entity was last read: what the page is "as read at" while it does not follow the stream. */
  readAt: Date | undefined = undefined;
  /** Why the last read again after an event failed: the page is as read before it. */
  failure: unknown = undefined;
  #abort: AbortController | undefined;
  #quiet: ReturnType<typeof setTimeout> | undefined;
  #firstPending: number | undefined;
  #reading: Promise<void> | undefined;
  #again = false;
  /** An event of the entity or a dependent came since the last read began, or the user asked for one. */
  #changed = false;
  /** The stream was interrupted (or refused, or ended) since it was last live. */
  #interrupted = false;

  constructor(private readonly options: FollowOptions) {}

  /** Whether a stream is held (or being set up) for the page. */
  get following(): boolean {
    return this.#abort !== undefined && !this.#abort.signal.aborted;
  }

  /**
   * "Now" only while the stream is live, or being set up for the first time (the page is read again once it is live),
   * and no read after an event failed. Setting it up again after an interruption is not live yet.
   */
  get current(): boolean {
    const state = this.status?.state;
    // Not started yet: the entity was just read, and the stream is started once its timeline is too.
    if (this.#abort === undefined) return this.failure === undefined;
    const settingUp = !this.#interrupted && (state === undefined || state === 'connecting');
    return this.following && (state === 'live' || settingUp) && this.failure === undefined;
  }

  /** Starts following, from now, until `stop` (another entity, leaving the page). */
  start(): void {
    this.stop();
    const abort = new AbortController();
    this.#abort = abort;
    const own = abort.signal;
    followEvents(this.options.api(), {
      query: 'from=end',
      signal: own,
      onStatus: (status) => {
        if (own.aborted) return;
        // Another store answers at this address: the page needs no history, so it follows the new log from now and is
        // read again, as the overview does (review 192).
        if (status.state === 'otherLog') {
          this.start();
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
    this.#abort?.abort();
    this.#abort = undefined;
    clearTimeout(this.#quiet);
    this.#firstPending = undefined;
    this.status = undefined;
    this.failure = undefined;
    this.#interrupted = false;
  }

  /** The entity was read (on opening, Retry): the time the page says while it does not follow. */
  read(at = new Date()): void {
    this.readAt = at;
    this.failure = undefined;
  }

  /** "Read again": now, whatever the stream. */
  readNow(): Promise<void> {
    clearTimeout(this.#quiet);
    this.#firstPending = undefined;
    this.#changed = true;
    return this.#read(this.#abort?.signal ?? AbortSignal.abort());
  }

  private schedule(): void {
    const signal = this.#abort?.signal;
    if (signal === undefined || signal.aborted) return;
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
    const status = this.status;
    switch (status?.state) {
      case 'refused':
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
