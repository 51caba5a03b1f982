/**
 * One SSE stream from open to close: the headers and the first retry hint, events from the pull loop through the
 * writer (back-pressure), heartbeats, and exactly one ending with its reason counted:
 * - `client`: the client went away; the store subscription is released at once;
 * - `slow`: the client stayed over the high-water mark past the stall limit; dropped with a retry hint, which is
 *   queued behind what it has not read: it reaches only a client that catches up before the connection is cut (one
 *   stall period later); one that does not comes back after the opening hint (`RETRY_MS.initial`);
 * - `shutdown`: graceful shutdown (or the store closing under the stream); ended with a retry hint;
 * - `error`: the stream failed (the store under it, or access.db when the token is re-checked; an event no version
 *   can read is passed over, not a failure: ./passed-over.ts); ended with `event: dropped` and a retry hint (the
 *   details go to the log). An event a newer version wrote (NewerEventError) ends it before that event, counted as
 *   `error` too, with `event: dropped` of reason `newer_event` naming its position and a long retry hint: passing
 *   over it would lose it for good once the server is upgraded (review 85); logged once per event (./newer-event-log.ts);
 * - `unauthorised`: the token the stream was opened with was revoked (at once when by this process, else seen at
 *   the next heartbeat) or has expired (a timer at its expiry); ended with `event: dropped` and no retry hint: the
 *   client needs a new token.
 * In every case the client resumes with `Last-Event-ID` (after `unauthorised`, with a new token) and loses nothing:
 * the store holds what it missed. The stream's slot is freed only once its connection has closed (review 120).
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import type { Observable, Subscription } from 'rxjs';
import type { ServiceMetrics } from '../metrics.ts';
import { NewerEventError } from '../../../projections/streams/index.ts';
import { HEARTBEAT, SSE_HEADERS, frameDropped, frameEvent, frameHeartbeatInterval, frameNewerEvent, frameStart, frameShutdown, frameUnauthorised, type SseMessage } from './frame.ts';
import { logNewerEvent } from './newer-event-log.ts';
import { ClientGone, SlowClient, SseWriter, connectionGone } from './writer.ts';

export type CloseReason = 'client' | 'slow' | 'shutdown' | 'error' | 'unauthorised';

/** The longest delay setTimeout takes (about 24.8 days); a longer one would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Reconnection delays sent as `retry:` hints. */
export const RETRY_MS = {
  /**
   * At the start: a dropped connection comes back quickly. Also what a client dropped as slow waits when it was cut
   * before reading the drop frames (they sit behind its backlog): the only hint it received (review 79).
   */
  initial: 1_000,
  /** After a graceful shutdown: long enough for a restart. */
  shutdown: 2_000,
  /** After a slow-client drop or an error: back off. */
  dropped: 5_000,
  /**
   * After an event a newer version wrote: the stream ends there again until the server is upgraded, which takes a
   * while (the bundled client waits at most its MAX_RECONNECT_MS, a minute).
   */
  newerEvent: 300_000,
} as const;

export interface SessionOptions {
  readonly res: ServerResponse;
  /**
   * The connection the request came on (`request.raw.socket`). Watched as well as `res`: a response queued behind
   * another on its connection (HTTP/1.1 pipelining) has no socket, and Node never emits its 'close' when the
   * connection closes, so such a stream ran on without a client, holding its slot (SER-001, adversarial review).
   */
  readonly connection: Socket;
  /** Headers already set on the reply (request id, rate-limit), kept when the socket is taken over. */
  readonly headers: Readonly<Record<string, string | number | readonly string[] | undefined>>;
  readonly requestId: string;
  readonly role: string;
  /**
   * How long the stream's token stays valid, in ms (0: revoked, forgotten or expired): asked on each heartbeat and
   * when the timer set from it fires (AccessControl.remainingMs).
   */
  readonly remainingMs: () => number;
  /**
   * Subscribes `end` to the revocation of the stream's token by this process (AccessControl.onRevoked), so the
   * stream ends at once rather than at the next heartbeat; returns the unsubscribe. Revocations by another process
   * (the CLI on the same access.db) are still found by the heartbeat's `remainingMs`.
   */
  readonly onRevoked: (end: () => void) => () => void;
  readonly heartbeatMs: number;
  /**
   * The id of the position the stream starts after (./event-id.ts `startIdOf`), sent as the `id:` of its first frame: a
   * client whose stream ends before its first event resumes from there, not from `from=end` again, which skipped
   * whatever was written in between (found in review). Undefined for a stream from the start.
   */
  readonly startsAfter?: string;
  readonly highWaterBytes: number;
  readonly stallMs: number;
  readonly metrics: ServiceMetrics;
  readonly shutdown: AbortSignal;
  readonly log: FastifyBaseLogger;
  /**
   * Called once when the stream has ended and its connection has closed (releases the principal's slot and the
   * service-wide place). Not at the end itself: an ended stream's connection still holds what its client has not read
   * (up to the high-water mark and the final frames) until the client reads it or one stall period passes, and a slot
   * freed before that let a client dropped as slow reopen at once and hold two such queues (review 120).
   */
  readonly onClosed: (reason: CloseReason) => void;
}

export class SseSession {
  private readonly writer: SseWriter;
  private subscription: Subscription | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private expiry: NodeJS.Timeout | undefined;
  private stopListeningForRevocation: (() => void) | undefined;
  private reason: CloseReason | undefined;
  private readonly ended: Promise<CloseReason>;
  private resolveEnded: (reason: CloseReason) => void = () => undefined;
  private readonly onShutdown = (): void => this.close('shutdown', frameShutdown(RETRY_MS.shutdown));
  private readonly onClientGone = (): void => this.close('client');

  constructor(private readonly options: SessionOptions) {
    this.writer = new SseWriter(options.res, { highWaterBytes: options.highWaterBytes, stallMs: options.stallMs, connection: options.connection });
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
  }

  /** What the pull loop awaits for each event: resolves once the client can take more. */
  readonly deliver = async (message: SseMessage): Promise<void> => {
    await this.writer.write(frameEvent(message));
    this.options.metrics.sseEventsDelivered(1);
  };

  /**
   * Sends the headers and subscribes to `events` (whose `onEvent` is `deliver`); resolves when the stream ends, which
   * may be before its connection has closed (`onClosed`).
   */
  run(events: Observable<unknown>): Promise<CloseReason> {
    const { res, connection, shutdown } = this.options;
    this.options.metrics.sseClientOpened(this.options.role);
    // A client that left before the socket was taken over: its 'close' has already been emitted, so no listener
    // added now would hear it. Nothing is subscribed; the slot is released at once.
    if (connectionGone(res, connection)) {
      this.close('client');
      return this.ended;
    }
    // An ended stream closes its connection (`Connection: close`): a client reconnects on a new one anyway, and a
    // kept-alive socket after the end would only hold a graceful shutdown until its keep-alive timeout.
    res.shouldKeepAlive = false;
    res.writeHead(200, { ...this.options.headers, 'x-request-id': this.options.requestId, ...SSE_HEADERS });
    // Sent at once, so the client has the headers (and the retry hint, and how far apart the heartbeats are) before the
    // first event.
    res.write(frameStart(RETRY_MS.initial, this.options.startsAfter) + frameHeartbeatInterval(this.options.heartbeatMs));
    res.once('close', this.onClientGone);
    connection.once('close', this.onClientGone);
    if (shutdown.aborted) {
      this.onShutdown();
      return this.ended;
    }
    shutdown.addEventListener('abort', this.onShutdown, { once: true });
    this.heartbeat = setInterval(() => this.beat(), this.options.heartbeatMs);
    this.heartbeat.unref();
    // Before the token's state is read (armExpiry): a revocation between the two is then either heard or read.
    this.stopListeningForRevocation = this.options.onRevoked(() => this.unauthorised());
    this.armExpiry();
    if (this.reason !== undefined) return this.ended;
    this.subscription = events.subscribe({
      error: (error: unknown) => this.fail(error),
      // The store ended the subscription: it is being closed, which happens on the way down.
      complete: () => this.close('shutdown', frameShutdown(RETRY_MS.shutdown)),
    });
    return this.ended;
  }

  /**
   * Each heartbeat re-checks the token (a revocation by another process ends the stream within one heartbeat; one by
   * this process has already ended it through `onRevoked`), then sends a comment
   * only when the client is keeping up: a paused stream is already waiting on it.
   */
  private beat(): void {
    if (this.reason !== undefined) return;
    const remaining = this.tokenRemainingMs();
    if (remaining === undefined) return;
    if (remaining <= 0) return this.unauthorised();
    if (this.writer.paused) return;
    this.writer.write(HEARTBEAT).catch((error: unknown) => this.fail(error));
  }

  /** Ends the stream when its token expires; a wait longer than a timer takes is re-armed when it fires. */
  private armExpiry(): void {
    const remaining = this.tokenRemainingMs();
    if (remaining === undefined) return;
    if (remaining <= 0) return this.unauthorised();
    this.expiry = setTimeout(() => this.armExpiry(), Math.min(remaining, MAX_TIMER_MS));
    this.expiry.unref();
  }

  /**
   * The token's remaining time, or undefined once the stream has failed because access.db could not be read (an I/O
   * error, a damaged file, a busy timeout). Thrown from a timer, that error was uncaught and ended the whole service
   * (found in review); thrown from `run`, it left the stream open and its slots held. The stream fails instead: the
   * client retries, and is let in again once access.db reads.
   */
  private tokenRemainingMs(): number | undefined {
    try {
      return this.options.remainingMs();
    } catch (error) {
      this.fail(error);
      return undefined;
    }
  }

  private unauthorised(): void {
    this.close('unauthorised', frameUnauthorised());
  }

  private fail(error: unknown): void {
    if (error instanceof ClientGone) return this.close('client');
    if (error instanceof SlowClient) return this.close('slow', frameDropped('slow', RETRY_MS.dropped));
    if (error instanceof NewerEventError) {
      // Logged once per event, not per stream or reconnect ending there (./newer-event-log.ts).
      logNewerEvent(this.options.log, error);
      return this.close('error', frameNewerEvent(error.position, RETRY_MS.newerEvent));
    }
    // The details go to the log only: they may name canonical identifiers, which a pseudonymised stream must not.
    this.options.log.error({ err: error }, 'event stream failed');
    this.close('error', frameDropped('error', RETRY_MS.dropped));
  }

  private close(reason: CloseReason, finalFrame?: string): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    clearInterval(this.heartbeat);
    clearTimeout(this.expiry);
    this.stopListeningForRevocation?.();
    this.options.shutdown.removeEventListener('abort', this.onShutdown);
    this.options.res.off('close', this.onClientGone);
    this.options.connection.off('close', this.onClientGone);
    this.subscription?.unsubscribe();
    this.writer.end(finalFrame, this.options.stallMs);
    this.options.metrics.sseClientClosed(this.options.role, reason);
    this.options.log.info({ reason }, 'event stream ended');
    // The writer closes the connection within one stall period, so the slot is never held longer than that.
    const { connection } = this.options;
    if (connection.destroyed) this.options.onClosed(reason);
    else connection.once('close', () => this.options.onClosed(reason));
    this.resolveEnded(reason);
  }
}
