/**
 * A stream's announcement of its heartbeat interval, a comment of its opening (`: heartbeat-ms N`,
 * adapters/http/sse/frame.ts frameHeartbeatInterval), and the silence a client allows a connection that heard it.
 *
 * Here because both clients of GET /v1/events read it and domain/ is the one place both may import: the web console
 * (adapters/console/src, which runs in a browser and imports only domain/) and adapters/client (the CLI's event
 * stream). Each takes it in a stream's opening only, before any event or other comment (review 361).
 */

/** The text of the comment (without its `: `); other clients skip it as any comment. */
export const HEARTBEAT_ANNOUNCEMENT = /^heartbeat-ms (\d{1,10})$/;

/** The longest timer Node and the browsers keep (a longer one fires at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The longest heartbeat interval a Credence service may be set to (limits.sseHeartbeatMs). */
export const MAX_HEARTBEAT_MS = 3_600_000;

/**
 * The silence allowed a connection whose server announced heartbeats `heartbeatMs` apart: four of them, and never less
 * than the caller's `silenceMs`. An interval past what any service may be set to is taken as that bound (review 361:
 * `heartbeat-ms 9999999999` switched silence detection off for 25 days).
 */
export const silenceFor = (silenceMs: number, heartbeatMs: number): number =>
  Math.min(MAX_TIMER_MS, Math.max(silenceMs, Math.ceil(4 * Math.min(heartbeatMs, MAX_HEARTBEAT_MS))));
