/**
 * The text/event-stream wire format (WHATWG HTML, "Server-sent events", section 9.2.5 "Interpreting an event
 * stream"): fields are lines `name: value`, an event ends at a blank line, a line starting with `:` is a comment.
 * A field value cannot hold a line break, so `data` is split into one `data:` line per line (the client joins
 * them with `\n`), and `id` / `event` with a line break are programming mistakes.
 */

/** One event as it goes over the wire; `id` is its global store position as a decimal string, `~` and its tag (./event-id.ts). */
export interface SseMessage {
  readonly id: string;
  readonly event: string;
  readonly data: string;
}

/** The response headers of every stream; `x-accel-buffering: no` keeps a reverse proxy (nginx) from batching events. */
export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  // no-store: every stream is read with a token, and no cache keeps what a token read (baseline-headers.ts).
  'cache-control': 'no-store, no-transform',
  'x-accel-buffering': 'no',
} as const;

const LINE_BREAK = /\r\n|\r|\n/;

const singleLine = (value: string, field: string): string => {
  if (LINE_BREAK.test(value) || value.includes('\0')) throw new Error(`${field}: must be one line without NUL`);
  return value;
};

export const frameEvent = (message: SseMessage): string =>
  `id: ${singleLine(message.id, 'message.id')}\n` +
  `event: ${singleLine(message.event, 'message.event')}\n` +
  message.data
    .split(LINE_BREAK)
    .map((line) => `data: ${line}\n`)
    .join('') +
  '\n';

/** A comment: clients ignore it; it keeps proxies and idle timers from closing a quiet stream. */
export const frameComment = (text: string): string =>
  text
    .split(LINE_BREAK)
    .map((line) => `: ${line}\n`)
    .join('') + '\n';

/** How long a client waits before reconnecting (it then sends `Last-Event-ID`). */
export const frameRetry = (ms: number): string => {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new Error('ms: must be a non-negative integer');
  return `retry: ${ms}\n\n`;
};

/**
 * A stream's first frame: the retry hint, and the id (or the bare position) it starts after as its `id:` (no event is
 * dispatched without data, but the last event id is set: WHATWG HTML, server-sent events, "dispatch the event", step 1).
 */
export const frameStart = (retryMs: number, startsAfter: string | bigint | undefined): string =>
  (startsAfter === undefined ? '' : `id: ${singleLine(startsAfter.toString(10), 'startsAfter')}\n`) + frameRetry(retryMs);

/**
 * A comment of the stream's opening, before any event: how far apart its heartbeats are, so that a client allows its
 * connection four of them before taking it for lost (adapters/client/sse.ts; review 358: `limits.sseHeartbeatMs` may be
 * up to an hour, and a client counting on the 15 s default dropped a healthy stream every minute). A comment: other
 * clients skip it (the console's parser, a browser's EventSource).
 */
export const frameHeartbeatInterval = (heartbeatMs: number): string => {
  if (!Number.isSafeInteger(heartbeatMs) || heartbeatMs < 1) throw new Error('heartbeatMs: must be a positive integer');
  return frameComment(`heartbeat-ms ${heartbeatMs}`);
};

/**
 * The last frame before the server ends a stream it could not keep up: an event without `id` (so the client's
 * last event id stays on the last event it really received) and a retry hint to come back later.
 */
export const frameDropped = (reason: 'slow' | 'error', retryMs: number): string =>
  frameComment(`dropped: ${reason}`) + `event: dropped\ndata: ${JSON.stringify({ reason, retryMs })}\n\n` + frameRetry(retryMs);

/**
 * The last frame of a stream that reached an event this server's version cannot read because a newer version wrote
 * it (review 85): `event: dropped` without `id` (the client's last event id stays on the last event it received, before
 * that one) naming its position, and a long retry hint: the stream ends there again until the server is upgraded,
 * and then the client resumes from before it and loses nothing.
 */
export const frameNewerEvent = (position: bigint, retryMs: number): string =>
  frameComment('dropped: newer_event') +
  `event: dropped\ndata: ${JSON.stringify({
    reason: 'newer_event',
    position: position.toString(10),
    retryMs,
    message: `the event at position ${position} was written by a newer version of Credence than this server's, which cannot read it: resume from the last event received once the server is upgraded`,
  })}\n\n` +
  frameRetry(retryMs);

/**
 * The last frame of a stream whose token was revoked or has expired: `event: dropped` without `id` and without a
 * retry hint, since reconnecting with the same token can only be refused (401); the client needs a new token.
 */
export const frameUnauthorised = (): string => frameComment('dropped: unauthorised') + `event: dropped\ndata: ${JSON.stringify({ reason: 'unauthorised' })}\n\n`;

/** The server is going away (graceful shutdown): come back after `retryMs` with the last event id. */
export const frameShutdown = (retryMs: number): string => frameComment('shutdown') + frameRetry(retryMs);

export const HEARTBEAT = frameComment('heartbeat');
