import { HEARTBEAT_ANNOUNCEMENT, silenceFor } from '../../../domain/heartbeat-announcement.ts';
import type { Api } from './api.ts';
import { ApiError, TimedOut } from './api.ts';
import { retryAfterMs, transientStatus as transient, waitText } from './retry-after.ts';
import { DroppedFrame } from './schemas.ts';
import { visibleText } from './visible-text.ts';

/**
 * GET /v1/events from the browser. EventSource cannot send an Authorization header, and the token must never go
 * in a URL, so this reads the text/event-stream body of a `fetch` with the bearer header (WHATWG HTML, "Parsing
 * an event stream"). It resumes with `Last-Event-ID` after a drop, waiting what the server's `retry:` asked; a
 * server error (5xx, as a proxy answers while the service restarts), 408 or 429 is tried again within the same
 * bounds (a 429 too_many_streams ends it for a page that yields, `yieldWhenStreamsAreHeld`); a refusal (401, 403, any other 4xx) or an `unauthorised` drop ends it for good. A resume refused as of
 * another log is told apart (`otherLog`), so that a page can follow the new log instead of showing the API's advice.
 * A connection whose answer does not come within the API's request bound, or that goes silent for
 * STREAM_SILENCE_MS (or four of the heartbeats its server announced in its opening), is given up and made again, as a
 * dropped one is (review 212).
 */

export interface StreamEvent {
  readonly id: string;
  readonly type: string;
  readonly data: unknown;
}

export type StreamStatus =
  | { readonly state: 'connecting' }
  | { readonly state: 'live' }
  | { readonly state: 'reconnecting'; readonly inMs: number; readonly why: string }
  | { readonly state: 'refused'; readonly error: ApiError }
  /**
   * The server refused to resume after the last event id because that id is not of its log (409
   * resume_point_not_in_log): another store answers at this address (a re-created data folder, another instance, a
   * restore). Ended, as a refusal is: the page decides how to follow the new log, since only it knows what it shows.
   */
  | { readonly state: 'otherLog'; readonly error: ApiError }
  | { readonly state: 'ended'; readonly why: string };

export interface StreamOptions {
  readonly query?: string;
  readonly onEvent: (event: StreamEvent) => void;
  readonly onStatus: (status: StreamStatus) => void;
  readonly signal: AbortSignal;
  /**
   * A 429 too_many_streams ends the stream as a refusal rather than being tried again: a page that can do without one
   * (an entity's, which is read again when asked) leaves the server's streams to the pages that need one (review 304).
   */
  readonly yieldWhenStreamsAreHeld?: boolean;
}

interface Frame {
  id?: string;
  event?: string;
  data: string[];
  retry?: number;
}

/** The most one line or one frame may hold: the server's largest event is far smaller (1 MiB bodies). */
const MAX_FRAME_CHARS = 4 * 1024 * 1024;

/** A stream that is not the server's: a line or frame past MAX_FRAME_CHARS. */
class FrameTooLarge extends Error {
  constructor() {
    super(`an event stream line or frame longer than ${MAX_FRAME_CHARS} characters`);
  }
}

/**
 * Splits a stream of text into frames; fields as the HTML standard defines them, comments given to `comment` (the text
 * after the colon and its space) as their line comes, outside of any frame.
 */
class FrameParser {
  constructor(private readonly comment: (text: string) => void) {}

  /** The start of a line whose end has not come yet, in the pieces it came in (joined once its end comes). */
  private pending: string[] = [];
  private pendingChars = 0;
  /** The last piece ended in a CR: the line ended there, unless the next piece starts with its LF. */
  private heldCr = false;
  private frame: Frame = { data: [] };
  private frameChars = 0;

  push(text: string, emit: (frame: Frame) => void): void {
    let from = 0;
    if (this.heldCr) {
      this.heldCr = false;
      if (text.startsWith('\n')) from = 1;
    }
    // Only the new text is searched for line ends, each part of it once: a long line costs its length once, not
    // once per piece, and a piece of many lines is not copied for each of them.
    const lineEnd = /\r\n|\r|\n/g;
    for (;;) {
      lineEnd.lastIndex = from;
      const found = lineEnd.exec(text);
      if (found === null) {
        if (from < text.length) this.hold(text.slice(from));
        return;
      }
      const end = found.index;
      const piece = text.slice(from, end);
      const line = this.pending.length === 0 ? piece : this.pending.join('') + piece;
      this.pending = [];
      this.pendingChars = 0;
      if (text[end] === '\r' && end === text.length - 1) {
        // A CR that ends the piece may be the first half of a CRLF split across pieces.
        this.heldCr = true;
        from = text.length;
      } else {
        from = end + (text.startsWith('\r\n', end) ? 2 : 1);
      }
      this.line(line, emit);
      if (from >= text.length) return;
    }
  }

  private hold(piece: string): void {
    this.pendingChars += piece.length;
    if (this.pendingChars > MAX_FRAME_CHARS) throw new FrameTooLarge();
    this.pending.push(piece);
  }

  private line(line: string, emit: (frame: Frame) => void): void {
    if (line === '') {
      if (this.frame.data.length > 0 || this.frame.retry !== undefined || this.frame.id !== undefined) emit(this.frame);
      this.frame = { data: [] };
      this.frameChars = 0;
      return;
    }
    this.frameChars += line.length;
    if (this.frameChars > MAX_FRAME_CHARS) throw new FrameTooLarge();
    if (line.startsWith(':')) {
      this.comment(line.slice(1).replace(/^ /, ''));
      return;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + (line[colon + 1] === ' ' ? 2 : 1));
    if (field === 'data') this.frame.data.push(value);
    else if (field === 'event') this.frame.event = value;
    else if (field === 'id') this.frame.id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.frame.retry = Number(value);
  }
}

const MAX_RETRY_MS = 60_000;
/** The least wait before a reconnect, whatever a server or proxy said (`retry: 0`, a date): never a tight loop. */
const MIN_RETRY_MS = 1_000;

const boundedRetry = (ms: number): number => Math.min(MAX_RETRY_MS, Math.max(MIN_RETRY_MS, ms));

/**
 * The longest wait a `newer_event` drop is granted (the server asks 300 s): the stream ends at the same event until
 * the server is upgraded, so reconnecting after MAX_RETRY_MS's minute only met it again, each time a request and a
 * line in the server's log (review 86); an upgraded server is still reached within a quarter of an hour.
 */
const MAX_NEWER_EVENT_RETRY_MS = 15 * 60_000;

/**
 * What the page says, and how long it waits, after the server ended the stream before an event a newer version of
 * Credence wrote (`newer_event`): the server's message, or these words with its position.
 */
const newerEventOutcome = (dropped: DroppedFrame, retryMs: number): { readonly why: string; readonly waitMs: number } => ({
  why: dropped.message ?? `this server's version cannot read the event at position ${dropped.position ?? '(not given)'}: upgrade the server`,
  waitMs: Math.min(MAX_NEWER_EVENT_RETRY_MS, Math.max(MIN_RETRY_MS, dropped.retryMs ?? retryMs)),
});

/**
 * What the page says of a stream the server dropped with `reason` (its `dropped` frame: adapters/http/sse/frame.ts,
 * frameDropped): `slow` and `error` said plainly, as "the stream ended" said neither (review 363); a reason this console
 * does not know is named, and a frame without one still says the server dropped it. `newer_event` and `unauthorised`
 * have their own words (newerEventOutcome, and the end of the stream).
 */
const DROPPED_BECAUSE: Readonly<Record<string, string>> = {
  slow: 'this page fell behind',
  error: 'a server error',
};
const droppedOutcome = (reason: string | undefined): string => {
  if (reason === undefined || reason === '') return 'the server dropped the stream';
  const because = Object.hasOwn(DROPPED_BECAUSE, reason) ? DROPPED_BECAUSE[reason] : undefined;
  if (because !== undefined) return `the server dropped the stream: ${because}`;
  return `the server dropped the stream (reason “${visibleText(reason.slice(0, 64))}”)`;
};

/** The wait after the n-th failure in a row: the base wait doubled each time, up to MAX_RETRY_MS. */
const backoff = (baseMs: number, failures: number): number => boundedRetry(baseMs * 2 ** Math.min(Math.max(failures - 1, 0), 6));

/**
 * The server's ids are global positions (decimal) with their event's tag (`<position>~<tag>`, 8 hex digits), and only
 * such an id is sent back as `Last-Event-ID`, as received: a header value must be ISO-8859-1, and another character
 * makes fetch throw before any request, so the stream would retry for ever without reaching the network; and the tag
 * is what lets the server refuse an id of another log instead of resuming after its position (review 185).
 */
const EVENT_ID = /^\d{1,20}(?:~[0-9a-f]{8})?$/;

/** The position of an event id (what the feed shows); the id itself is sent back whole. */
export const positionOfEventId = (id: string): string => id.split('~', 1)[0] ?? '';

/** A 429 too_many_streams: the streams the server allows the principal (or the service) are all held. */
export const streamsAllHeld = (error: ApiError): boolean => error.status === 429 && (error.problem.type ?? '').endsWith('too_many_streams');

/** A 409 resume_point_not_in_log: the resume point (the last event id, sent back) is not of the server's log. */
const isOtherLog = (status: number, error: ApiError): boolean => status === 409 && (error.problem.type ?? '').endsWith('resume_point_not_in_log');

/**
 * How long a live stream may send nothing, not even a comment, before it is taken for a dropped connection and made
 * again (resuming with Last-Event-ID): a proxy or NAT that lost it passes nothing and closes nothing, and the page read
 * "Live" over it for ever (review 212). The server sends `: heartbeat` every `limits.sseHeartbeatMs` (15 s by default):
 * this is four of the default's. It announces that interval in the stream's opening (`: heartbeat-ms N`), and a
 * connection that heard it is allowed four of its heartbeats if longer (silenceFor, the same code as the CLI's client:
 * review 358, heartbeats may be set an hour apart, and a healthy stream was made again after each quiet minute).
 */
export const STREAM_SILENCE_MS = 60_000;

/** The abort reason of a connection that went silent for the silence it was allowed. */
class StreamSilent extends Error {
  constructor(silenceMs: number) {
    super(`no word from the server for ${waitText(silenceMs)}`);
    this.name = 'StreamSilent';
  }
}

/** How one connection ended: for good, or to be tried again after the wait, saying why (the status line shows it). */
type Outcome = { readonly next: 'stop' } | { readonly next: 'again'; readonly why: string };
const STOP: Outcome = { next: 'stop' };

export const followEvents = (api: Api, options: StreamOptions): void => {
  const { signal } = options;
  let lastEventId: string | undefined;
  /** The server's `retry:` (or the default): the wait after a stream that ended, and the base of the backoff. */
  let retryMs = 1_000;
  /** Connections that failed in a row (an error status, a network error): each doubles the wait, a live one resets. */
  let failures = 0;
  let waitMs = retryMs;

  /** A connection answered with an error status: tried again (a server's failure) or ended (a refusal). */
  const refusedOutcome = async (response: Response, path: string): Promise<Outcome> => {
    const error = await api.errorOf(response, path);
    if (transient(response.status) && !(options.yieldWhenStreamsAreHeld === true && streamsAllHeld(error))) {
      failures += 1;
      waitMs = boundedRetry(Math.max(backoff(retryMs, failures), retryAfterMs(response.headers.get('retry-after')) ?? 0));
      // Said as the server's failure, not as a refusal: nothing the user or the role has to change.
      const detail = error.message === `HTTP ${response.status}` || error.message === '' ? '' : `: ${error.message}`;
      return { next: 'again', why: `the server answered ${response.status}${detail}` };
    }
    options.onStatus(lastEventId !== undefined && isOtherLog(response.status, error) ? { state: 'otherLog', error } : { state: 'refused', error });
    return STOP;
  };

  const once = async (): Promise<Outcome> => {
    options.onStatus({ state: 'connecting' });
    const headers: Record<string, string> = api.headers('text/event-stream');
    if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
    const path = `/v1/events${options.query ? `?${options.query}` : ''}`;
    // This connection's own end (a timeout, silence), joined with the page's: fetch and the body's read reject with its
    // reason, and aborting it closes the connection, whose place the server counts per principal.
    const connection = new AbortController();
    // Until the headers come (and a refusal's body): a request taken and never answered left "Connecting…" for ever
    // (review 212). A `TimedOut`, thrown to the loop: a failure, backed off as a network error is.
    const setUp = setTimeout(() => connection.abort(new TimedOut(path, api.timeoutMs)), api.timeoutMs);
    let response: Response;
    try {
      response = await fetch(path, {
        headers,
        cache: 'no-store',
        credentials: 'omit',
        referrerPolicy: 'no-referrer',
        signal: AbortSignal.any([signal, connection.signal]),
      });
      if (!response.ok) return await refusedOutcome(response, path);
    } finally {
      clearTimeout(setUp);
    }
    if (response.body === null) throw new ApiError(502, { title: 'event stream without a body' }, path);
    options.onStatus({ state: 'live' });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    // The silence this connection is allowed: the console's own, or four of the heartbeats the server announced in
    // the stream's opening (before any event or other comment; one later is no announcement, review 361), as the CLI's.
    let connectionSilenceMs = STREAM_SILENCE_MS;
    let heardAfterOpening = false;
    const parser = new FrameParser((comment) => {
      const announced = heardAfterOpening ? null : HEARTBEAT_ANNOUNCEMENT.exec(comment);
      if (announced !== null) connectionSilenceMs = silenceFor(STREAM_SILENCE_MS, Number(announced[1]));
      else heardAfterOpening = true;
    });
    let stop = false;
    let done = false;
    let delivered = false;
    let newerEvent: { readonly why: string; readonly waitMs: number } | undefined;
    /** Why the server said it dropped the stream (its `dropped` frame), said in place of "the stream ended". */
    let droppedWhy: string | undefined;
    // Any bytes, a heartbeat's included, show the connection alive; a stream silent past its silence is ended.
    let silence: ReturnType<typeof setTimeout> | undefined;
    const heard = (): void => {
      clearTimeout(silence);
      const silenceMs = connectionSilenceMs;
      silence = setTimeout(() => connection.abort(new StreamSilent(silenceMs)), silenceMs);
    };
    heard();
    try {
      while (!done && !stop) {
        let chunk: ReadableStreamReadResult<string>;
        try {
          chunk = await reader.read();
        } catch (error) {
          // Silence is a dropped connection, reconnected to below; any other failure is the loop's to back off.
          if (!(connection.signal.reason instanceof StreamSilent) || signal.aborted) throw error;
          break;
        }
        done = chunk.done;
        if (chunk.done) break;
        parser.push(chunk.value, (frame) => {
          // A stream that delivers a frame worked: the backoff starts again. One that ends (or breaks) before any, as a
          // proxy's 200 page or a stream cut at once, counts as one more failure (found in review: a fixed second).
          delivered = true;
          failures = 0;
          if (frame.retry !== undefined) retryMs = boundedRetry(frame.retry);
          // An id sets where to resume even on a frame without data (WHATWG HTML, server-sent events): the server's
          // first frame names the position the stream starts after, so a stream cut before its first event resumes
          // there, not from now again (found in review: what was written meanwhile was skipped).
          if (frame.id !== undefined && EVENT_ID.test(frame.id)) lastEventId = frame.id;
          if (frame.data.length === 0) return;
          heardAfterOpening = true;
          let data: unknown;
          try {
            data = JSON.parse(frame.data.join('\n'));
          } catch {
            data = frame.data.join('\n');
          }
          if (frame.event === 'dropped') {
            const dropped = DroppedFrame.safeParse(data);
            const reason = (dropped.success ? dropped.data.reason : undefined) ?? 'dropped';
            droppedWhy = droppedOutcome(dropped.success ? dropped.data.reason : undefined);
            if (reason === 'newer_event' && dropped.success) newerEvent = newerEventOutcome(dropped.data, retryMs);
            if (reason === 'unauthorised') {
              stop = true;
              options.onStatus({ state: 'ended', why: 'the token was revoked or expired: sign in again' });
              // As a 401 does: the session's token is of no use any more, so it is not kept.
              api.unauthenticated(path);
            }
            return;
          }
          // An id that is not an event id is not the server's: the event is shown, its id neither kept nor shown.
          const id = frame.id !== undefined && EVENT_ID.test(frame.id) ? frame.id : undefined;
          options.onEvent({ id: id ?? '', type: frame.event ?? 'message', data });
        });
        // Armed again once the chunk is read, with the silence an announcement in it allowed.
        heard();
      }
    } finally {
      clearTimeout(silence);
      // However this read ends (a stop, a throwing listener), the connection is closed: the server counts open
      // streams per principal, and a forgotten one would hold a slot until the tab closes.
      if (!done) await reader.cancel().catch(() => undefined);
      connection.abort();
    }
    if (!delivered) failures += 1;
    waitMs = delivered ? retryMs : backoff(retryMs, failures);
    if (stop) return STOP;
    // Its wait is for this reconnect only: it is no base for the backoff of later failures.
    if (newerEvent !== undefined) {
      waitMs = newerEvent.waitMs;
      return { next: 'again', why: newerEvent.why };
    }
    if (connection.signal.reason instanceof StreamSilent) return { next: 'again', why: connection.signal.reason.message };
    return { next: 'again', why: droppedWhy ?? 'the stream ended' };
  };

  const loop = async (): Promise<void> => {
    while (!signal.aborted) {
      let outcome: Outcome;
      try {
        outcome = await once();
      } catch (error) {
        if (signal.aborted) return;
        failures += 1;
        waitMs = backoff(retryMs, failures);
        outcome = { next: 'again', why: error instanceof Error ? error.message : String(error) };
      }
      if (outcome.next === 'stop' || signal.aborted) return;
      options.onStatus({ state: 'reconnecting', inMs: waitMs, why: outcome.why });
      await new Promise<void>((resolve) => {
        // Leaving the page ends the wait at once; a wait that ends by itself takes its listener off the signal.
        const onAbort = (): void => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        }, waitMs);
        signal.addEventListener('abort', onAbort, { once: true });
      });
    }
  };
  void loop();
};
