/**
 * The client side of GET /v1/events, for the CLI, the demo, the benchmarks and the tests: a text/event-stream
 * parser over a fetch body, and a subscription that reconnects with `Last-Event-ID` after the server's `retry:`
 * hint, so a stream survives a dropped connection, a slow-client drop or a server restart without a gap or a
 * duplicate (the server resumes strictly after the id); behind a reverse proxy too, whose 502 or 504 during the restart
 * is waited out as the console waits it out (transientStatus). Whatever the server says, the subscription waits between
 * MIN_RECONNECT_MS and MAX_RECONNECT_MS before a reconnection, backing off while no event arrives, and only ever
 * sends back an id that is an event id (`<position>~<tag>`, or a bare position), as received: the tag lets the server
 * refuse an id of another log rather than resume after its position (review 185).
 */
import { z } from 'zod';
import { HEARTBEAT_ANNOUNCEMENT, silenceFor } from '../../domain/heartbeat-announcement.ts';
import { ResumePointString } from '../../domain/positions.ts';
import { transientStatus } from '../../domain/transient-status.ts';
import { boundedText, DEFAULT_TIMEOUT_MS, isRedirect, problemOf, redirected, requestUrl, ServerTimeout, ServerUnreachable } from './http.ts';
import { parseEventStream, type SseEvent, type SseFrame } from './sse-parser.ts';

export { silenceFor } from '../../domain/heartbeat-announcement.ts';
export { parseEventStream } from './sse-parser.ts';
export type { ParseOptions, SseEvent, SseFrame } from './sse-parser.ts';

/** The most of a refused stream's body read: a problem document, or the start of a proxy's page. */
const MAX_REFUSAL_BYTES = 64 * 1024;

/**
 * The server ended the stream on its own with `event: dropped` (a control frame, not a lifecycle event):
 * - `slow` (the client fell behind) or `error`: come back after `retryMs` with `lastEventId`; nothing is lost;
 * - `unauthorised`: the token was revoked or has expired; no retry hint, a new token is needed;
 * - `newer_event`: the next event was written by a newer version of Credence than the server's: the stream ends before
 *   it, and a reconnection meets it again until the server is upgraded (`position`, `message`).
 */
export interface SseDropped {
  readonly reason: 'slow' | 'error' | 'unauthorised' | 'newer_event' | 'unknown';
  readonly retryMs?: number;
  /** The server's words for `newer_event` (printable text, bounded), and the event's position. */
  readonly message?: string;
  readonly position?: string;
  /** The id of the last lifecycle event received: where a new connection resumes. */
  readonly lastEventId: string;
}

const DroppedData = z.looseObject({
  reason: z.enum(['slow', 'error', 'unauthorised', 'newer_event', 'unknown']).catch('unknown'),
  retryMs: z.number().int().nonnegative().optional().catch(undefined),
  message: z.string().max(1000).optional().catch(undefined),
  position: z.string().regex(/^\d{1,20}$/).optional().catch(undefined),
});

/** The `data` of a `dropped` frame; a reason this client does not know (or a broken frame) is `unknown`. */
const droppedOf = (data: string, lastEventId: string): SseDropped => {
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    json = undefined;
  }
  const parsed = DroppedData.safeParse(json);
  if (!parsed.success) return { reason: 'unknown', lastEventId };
  const { reason, retryMs, message, position } = parsed.data;
  return {
    reason,
    lastEventId,
    ...(retryMs !== undefined ? { retryMs } : {}),
    ...(reason === 'newer_event' && message !== undefined ? { message } : {}),
    ...(reason === 'newer_event' && position !== undefined ? { position } : {}),
  };
};

export interface SubscribeOptions {
  /** Path and query, e.g. `/v1/events?kind=credential`. */
  readonly path: string;
  readonly token?: string;
  /**
   * Resume strictly after this id, as the server sent it (`<position>~<tag>`) or a bare position (decimal); anything
   * else is a TypeError naming it.
   */
  readonly lastEventId?: string;
  readonly signal?: AbortSignal;
  /** Reconnect when the stream ends or the server cannot be reached (default true). */
  readonly reconnect?: boolean;
  /**
   * Reconnections in a row without an event before giving up (default: no limit, as a subscriber that follows the
   * fleet for days wants; the backoff keeps a server that never sends an event to one attempt a minute).
   */
  readonly maxReconnects?: number;
  /**
   * The same bound until a stream has opened (default: `maxReconnects`). `credence events` gives 0: a server it has
   * never reached is an error to report at once (exit 3), one that answered before is waited for.
   */
  readonly maxReconnectsBeforeOpen?: number;
  /**
   * How long each connection may take to open, until the response's headers (default DEFAULT_TIMEOUT_MS; a refusal's
   * body too): one that has not opened by then counts as a server not reached. Never the live stream after that, which
   * waits as long as no event comes (review 186: a server that took the connection and never answered held `credence
   * events` for undici's own 5 minutes), as long as it hears from the server within `silenceMs`.
   */
  readonly connectTimeoutMs?: number;
  /**
   * How long an open stream may send nothing, not even a heartbeat comment, before its connection is taken for lost,
   * closed and made again with `Last-Event-ID` (default SILENCE_MS): a proxy or NAT that stops passing bytes closes
   * nothing, and the stream was followed for ever (review 354). Counted only while waiting for the server's bytes, not
   * while the consumer holds an event. A connection whose server announced its heartbeats (`: heartbeat-ms N` in the
   * opening) is allowed four of them at least (review 358: heartbeats may be set an hour apart). A silent connection
   * is a failure for the backoff only when nothing came after its opening, no heartbeat, no event.
   */
  readonly silenceMs?: number;
  /**
   * Told when a connection was closed for its silence (the silence allowed it), before the reconnection (onReconnect),
   * with the id it resumes after. What it throws ends the subscription, as onFrame's and onReconnect's do.
   */
  readonly onSilent?: (lastEventId: string, silenceMs: number) => void;
  /** Wait before reconnecting until the server sends a hint (default 1000 ms; held within the bounds below). */
  readonly retryMs?: number;
  /** Sees every frame: comments (heartbeats), retry hints, events (`dropped` included). */
  readonly onFrame?: (frame: SseFrame) => void;
  /**
   * Told when the server ends the stream with `event: dropped`; that frame is never yielded as an event. After
   * `unauthorised` the subscription reconnects as soon as it may (MIN_RECONNECT_MS), and the server's 401 is thrown
   * as a `ProblemResponse`.
   */
  readonly onDropped?: (dropped: SseDropped) => void;
  /** Told before each reconnection, with the id it resumes after and the wait. */
  readonly onReconnect?: (lastEventId: string, delayMs: number) => void;
  readonly maxEventChars?: number;
  /** A number in [0, 1) for the jitter of the waits (default Math.random); tests pass their own. */
  readonly random?: () => number;
}

/**
 * The least wait before a reconnection, whatever the server said: found in review, `retry: 0` (or a stream that
 * ends at once) made the client connect some hundreds of times a second.
 */
export const MIN_RECONNECT_MS = 250;
/**
 * The longest wait: a `retry:` or Retry-After past 2^31 - 1 ms fires at once in Node's setTimeout (found in review: a
 * busy loop again), and a wait longer than a minute would leave a subscriber behind for no reason it can see.
 */
export const MAX_RECONNECT_MS = 60_000;

/**
 * How long an open stream may be silent by default: four of the server's default heartbeats (`limits.sseHeartbeatMs`,
 * 15 s), as the console's STREAM_SILENCE_MS (review 212). A server that announces longer heartbeats in the stream's
 * opening (`: heartbeat-ms N`) is allowed four of its own (review 358).
 */
export const SILENCE_MS = 60_000;

const bounded = (ms: number): number => (Number.isNaN(ms) ? MIN_RECONNECT_MS : Math.min(MAX_RECONNECT_MS, Math.max(MIN_RECONNECT_MS, ms)));

/**
 * The wait before the reconnection that follows `failures` in a row without an event: `baseMs` (the server's
 * `retry:`) doubled for each failure after the first, at most MAX_RECONNECT_MS, then up to half as long again at
 * random (`random()` in [0, 1)), so that the subscribers a server restart dropped together do not all come back in
 * the same instant. Never sooner than the server asked, never later than MAX_RECONNECT_MS.
 */
export const reconnectDelay = (baseMs: number, failures: number, random: () => number = Math.random): number => {
  const backedOff = bounded(bounded(baseMs) * 2 ** Math.min(Math.max(failures - 1, 0), 10));
  return bounded(backedOff * (1 + Math.min(Math.max(random(), 0), 1) / 2));
};

/**
 * Credence's event ids are global positions (decimal, at most 19 digits) with the tag of their event
 * (domain/positions.ts ResumePointString). Only such an id is kept and sent back as `Last-Event-ID`, unchanged: found in
 * review, an `id: €` made every reconnection throw in fetch (a header value must be Latin-1), taken for an unreachable
 * server and retried for ever without reaching it; and an id cut to its position is no longer checked by the server.
 */
const isEventId = (id: string): boolean => ResumePointString.safeParse(id).success;

const sleep = (ms: number, signal: AbortSignal | undefined): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/**
 * `body`'s chunks, `silent` called when none comes within `silenceMs()` of asking for it (it aborts the connection,
 * which ends the read): any bytes show the connection alive, a heartbeat's included, and the time the consumer holds a
 * chunk is not silence. Nothing of the caller's is called from the timer, where what it threw would be uncaught.
 */
async function* heard(body: ReadableStream<Uint8Array>, silenceMs: () => number, silent: () => void): AsyncGenerator<Uint8Array> {
  const reader = body.getReader();
  try {
    for (;;) {
      const silence = setTimeout(silent, silenceMs());
      const chunk = await reader.read().finally(() => clearTimeout(silence));
      if (chunk.done) return;
      yield chunk.value;
    }
  } finally {
    reader.releaseLock();
  }
}

/**
 * The events of a stream, reconnecting as told. Ends when `signal` aborts or the consumer stops iterating (the
 * connection is closed then); throws `ProblemResponse` for a refusal, and for a status a retry may mend (408, 429,
 * a 5xx but 501 and 505: transientStatus) once the bounds on reconnections are reached (until then it is waited out,
 * honouring Retry-After), `UnexpectedResponse` for a redirect (never followed, as in http.ts), a TypeError for a
 * request fetch cannot build (a token that is not Latin-1), and `ServerUnreachable` when reconnecting is off or has
 * given up (`ServerTimeout` when the last connection did not open within `connectTimeoutMs`).
 */
export async function* subscribeEvents(baseUrl: string, options: SubscribeOptions): AsyncGenerator<SseEvent> {
  if (options.lastEventId !== undefined && options.lastEventId !== '' && !isEventId(options.lastEventId)) {
    throw new TypeError('lastEventId: must be an event id as the server sent it (<position>~<tag>) or a position, a decimal integer from 0 to 2^63 - 1');
  }
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  // Past 2^31 - 1 ms Node's setTimeout fires at once: every connection would time out.
  if (!Number.isInteger(connectTimeoutMs) || connectTimeoutMs < 1 || connectTimeoutMs > 2 ** 31 - 1) {
    throw new TypeError('connectTimeoutMs: must be a whole number of milliseconds from 1 to 2^31 - 1');
  }
  const silenceMs = options.silenceMs ?? SILENCE_MS;
  if (!Number.isInteger(silenceMs) || silenceMs < 1 || silenceMs > 2 ** 31 - 1) {
    throw new TypeError('silenceMs: must be a whole number of milliseconds from 1 to 2^31 - 1');
  }
  const reconnect = options.reconnect ?? true;
  const maxReconnects = options.maxReconnects ?? Number.POSITIVE_INFINITY;
  const maxReconnectsBeforeOpen = options.maxReconnectsBeforeOpen ?? maxReconnects;
  const random = options.random ?? Math.random;
  /** The server's `retry:` (or the caller's default): the wait after a stream that ended, and the base of the backoff. */
  let retryMs = bounded(options.retryMs ?? 1_000);
  let lastEventId = options.lastEventId ?? '';
  /** Reconnections since the last event: each doubles the wait (reconnectDelay), an event starts again. */
  let failures = 0;
  /** Whether a stream has opened (a 200 text/event-stream): which of the two bounds holds. */
  let opened = false;
  const gaveUp = (): boolean => failures >= (opened ? maxReconnects : maxReconnectsBeforeOpen);
  const url = requestUrl(baseUrl, options.path);
  const what = `GET ${options.path.split('?')[0]}`;
  const outer = options.signal;
  const aborted = (): boolean => outer?.aborted === true;

  for (;;) {
    if (aborted()) return;
    const connection = new AbortController();
    const stop = (): void => connection.abort();
    outer?.addEventListener('abort', stop, { once: true });
    /** What the server asked to wait at least (Retry-After), and whether to come back as soon as allowed. */
    let atLeastMs = 0;
    let soon = false;
    /** The network failure that ended this attempt (or its deadline), for the error when no reconnection follows. */
    let unreachable: { readonly cause: unknown; readonly timedOut: boolean } | undefined;
    /** Whether this connection was closed for its silence, and whether it heard the server after its opening first. */
    let wentSilent = false;
    let heardAfterOpening = false;
    // Until the stream opens (cleared then): a connection that took the request and never answers is an attempt that
    // failed, retried with the backoff or reported, as a server that cannot be reached.
    let timedOut = false;
    const deadline = setTimeout(() => {
      timedOut = true;
      connection.abort();
    }, connectTimeoutMs);
    try {
      const headers: Record<string, string> = { accept: 'text/event-stream' };
      if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
      if (lastEventId !== '') headers['last-event-id'] = lastEventId;
      // Built outside the try below: a request fetch cannot build is fatal, not a server to wait for.
      const built = new Request(url, { headers, signal: connection.signal, redirect: 'manual' });
      let response: Response | undefined;
      try {
        response = await fetch(built);
      } catch (error) {
        if (aborted()) return;
        unreachable = { cause: error, timedOut };
      }
      if (response !== undefined && isRedirect(response.status)) {
        await response.body?.cancel().catch(() => undefined);
        throw redirected(what, response.status);
      }
      if (response !== undefined && !response.ok) {
        // A refusal's body is read bounded, as every answer is (http.ts): a problem document is small.
        const refusal = problemOf(response, await boundedText(response, MAX_REFUSAL_BYTES, what).catch(() => ''));
        // A server or proxy that failed, or is not up yet, is waited out; a refusal no retry changes ends it here.
        if (!reconnect || !transientStatus(response.status) || gaveUp()) throw refusal;
        // A Retry-After held within the bounds (http.ts retryAfterMsOf), as the console reads it.
        atLeastMs = refusal.retryAfterMs !== undefined ? bounded(refusal.retryAfterMs) : 0;
      } else if (response !== undefined) {
        const type = response.headers.get('content-type') ?? '';
        if (!type.startsWith('text/event-stream') || response.body === null) {
          await response.body?.cancel();
          throw new Error(`${url.origin}${url.pathname} answered ${type || 'no content type'}, not text/event-stream`);
        }
        clearTimeout(deadline);
        opened = true;
        // From here on no deadline holds the stream for want of events, but a connection silent past its silence is
        // one lost: closed, and made again below as after a cut. The silence is the caller's, or four of the
        // heartbeats the server announces in the opening if longer (review 358: a server whose heartbeats were 90 s
        // apart had each healthy stream dropped every minute).
        let connectionSilenceMs = silenceMs;
        try {
          for await (const frame of parseEventStream(
            heard(
              response.body,
              () => connectionSilenceMs,
              () => {
                wentSilent = true;
                connection.abort();
              },
            ),
            options.maxEventChars !== undefined ? { maxEventChars: options.maxEventChars } : {},
          )) {
            options.onFrame?.(frame);
            // Taken in the opening only: one later in the stream is no announcement (review 361).
            const announced = frame.kind === 'comment' && !heardAfterOpening ? HEARTBEAT_ANNOUNCEMENT.exec(frame.text) : null;
            if (announced !== null) connectionSilenceMs = silenceFor(silenceMs, Number(announced[1]));
            // Beyond its opening (the retry hint, the id it starts after, the announcement): the server was heard.
            else if (frame.kind === 'comment' || frame.kind === 'event') heardAfterOpening = true;
            if (frame.kind === 'retry') retryMs = bounded(frame.ms);
            // Where the stream starts, before any event: a stream cut before its first event resumes there, not from
            // now.
            if (frame.kind === 'id' && isEventId(frame.id)) lastEventId = frame.id;
            if (frame.kind !== 'event') continue;
            if (frame.event === 'dropped') {
              // A control frame: its id is the last lifecycle event's (it sends none of its own), which is kept as is.
              const dropped = droppedOf(frame.data, lastEventId);
              options.onDropped?.(dropped);
              // The token is no good any more: ask again soon, so that the server's 401 says why.
              if (dropped.reason === 'unauthorised') soon = true;
              continue;
            }
            // An id that is not an event id is not the server's: the event is delivered, its id neither kept nor passed
            // on.
            const id = isEventId(frame.id) ? frame.id : '';
            if (id !== '') lastEventId = id;
            failures = 0;
            yield { id, event: frame.event, data: frame.data };
          }
        } catch (error) {
          // A connection cut mid-stream is a reason to reconnect, like a clean end; a broken stream is not.
          if (aborted()) return;
          if (error instanceof Error && error.message.startsWith('event stream:')) throw error;
        }
        // Told here, after the abort and not from the timer: what it throws ends the subscription (review 358).
        if (wentSilent) options.onSilent?.(lastEventId, connectionSilenceMs);
      }
    } finally {
      clearTimeout(deadline);
      outer?.removeEventListener('abort', stop);
      connection.abort();
    }
    // A connection that heard a heartbeat or an event and then fell silent reached a server that works: a proxy or NAT in
    // between lost it. No failure (review 358: each one was, and a healthy stream behind a flapping proxy waited ever
    // longer, or ended at maxReconnects); its own silence keeps the reconnections apart.
    const failed = !(wentSilent && heardAfterOpening);
    if (!reconnect || (failed && gaveUp())) {
      if (unreachable !== undefined) throw unreachable.timedOut ? new ServerTimeout(baseUrl, connectTimeoutMs) : new ServerUnreachable(baseUrl, unreachable.cause);
      return;
    }
    if (failed) failures += 1;
    const waitMs = Math.max(reconnectDelay(soon ? MIN_RECONNECT_MS : retryMs, failures, random), atLeastMs);
    options.onReconnect?.(lastEventId, waitMs);
    await sleep(waitMs, outer);
  }
}
