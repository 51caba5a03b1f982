/**
 * Writes frames to one SSE response without ever buffering without limit (issue 12, SER-001).
 *
 * The pull loop of the integrator streams (projections/streams/paced.ts) reads the next event only once the
 * promise of `write` has settled, so what one client costs the server is what sits in its socket's send buffers
 * plus the page its store subscription holds (./stream-pages.ts: at most 256 KiB of stored events on the embedded
 * store; before review 285, 1,000 records, some 6.4 MB of the largest). `write` resolves at once while the send
 * buffers stay at or below the high-water mark, and otherwise only once the socket has drained below it. A client
 * still behind after `stallMs` is a slow client: `write` rejects with `SlowClient` and the session drops it with a
 * retry hint; it resumes later with `Last-Event-ID`, from the store, at no cost to anyone while it is away.
 *
 * The configured mark is the only bound, above or below Node's own (16 KiB on a socket). `res.write` returning false
 * (`writableNeedDrain`) tells only about Node's mark, and stays so until 'drain', when the buffer is empty: a wait on
 * it paused every stream at about 17 kB whatever the configured mark (review 79: 17,255 bytes queued with marks of
 * 1 MiB and 8 MiB alike). So Node's signal is not read; a wait wakes when a written frame has been handed to the
 * kernel (the write callback), which is when `writableLength` goes down, and on 'drain', and re-checks the queue
 * against the configured mark. What one client holds here is therefore at most the mark plus the one frame that
 * passed it (plus the final frames when the stream is ended, until the connection closes: see `end`), beside that page.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export class SlowClient extends Error {
  constructor(readonly stallMs: number) {
    super(`the client read nothing for ${stallMs} ms while its stream was over the high-water mark`);
    this.name = 'SlowClient';
  }
}

export class ClientGone extends Error {
  constructor() {
    super('the client closed the stream');
    this.name = 'ClientGone';
  }
}

export interface SseWriterOptions {
  /** Bytes queued on the socket above which writing waits. */
  readonly highWaterBytes: number;
  /** How long a write may wait for the client before it is a slow client. */
  readonly stallMs: number;
  /** The connection the request came on (`req.socket`): watched as well as the response (see `connectionGone`). */
  readonly connection: Socket;
}

/**
 * The client has gone: the response was destroyed (Node does so when the connection closes) or its connection was.
 * What a listener cannot tell when the client left before it was added: 'close' is emitted only once.
 *
 * `connection` is the request's socket (`req.socket`), not `res.socket`: a response queued behind an earlier one on
 * the same connection (HTTP/1.1 pipelining) has no socket yet, and Node neither destroys it nor emits its 'close'
 * when that connection closes; only the connection tells (SER-001: such a stream held its slot after its client left,
 * found in adversarial review).
 */
export const connectionGone = (res: ServerResponse, connection: Socket): boolean =>
  res.destroyed || connection.destroyed || res.socket?.destroyed === true;

const positiveInteger = (value: number, name: string): number => {
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`${name}: must be a positive integer`);
  return value;
};

export class SseWriter {
  private readonly highWaterBytes: number;
  private readonly stallMs: number;
  /** The one wait in progress: later writes during it join it rather than stacking timers. */
  private waiting: Promise<void> | undefined;
  private gone = false;
  private readonly waiters = new Set<() => void>();
  private readonly connection: Socket;

  constructor(private readonly res: ServerResponse, options: SseWriterOptions) {
    this.highWaterBytes = positiveInteger(options.highWaterBytes, 'options.highWaterBytes');
    this.stallMs = positiveInteger(options.stallMs, 'options.stallMs');
    this.connection = options.connection;
    // A write to a reset socket reports through 'error'; the 'close' that follows ends the session.
    res.on('error', () => undefined);
    res.once('close', this.onGone);
    // The connection too: a queued (pipelined) response never hears its own 'close' (SER-001, see `connectionGone`).
    this.connection.once('close', this.onGone);
  }

  /** The client went away (or the response was ended). */
  get closed(): boolean {
    return this.gone || connectionGone(this.res, this.connection);
  }

  /** A write is waiting for the client to read. */
  get paused(): boolean {
    return this.waiting !== undefined;
  }

  /** Resolves once the frame is written and the queue is back at or below the high-water mark. */
  write(frame: string): Promise<void> {
    if (this.closed) return Promise.reject(new ClientGone());
    this.res.write(frame, this.wake);
    if (this.waiting === undefined && this.below()) return Promise.resolve();
    this.waiting ??= this.waitBelow().finally(() => {
      this.waiting = undefined;
    });
    return this.waiting;
  }

  /**
   * Ends the response after `finalFrame`, and closes the connection after `graceMs` whatever the client does: a
   * client that stopped reading would otherwise keep the socket (and what is queued on it) half-open. The session
   * frees the stream's slot only when the connection has closed, so that close must come whatever state the
   * response is in.
   */
  end(finalFrame: string | undefined, graceMs: number): void {
    // The request's connection, not `res.socket`: a finished response lets go of its socket, and a response queued
    // behind another on its connection has none yet; without a timer such a stream's connection stayed open
    // (SER-001, found in adversarial review). An ended stream closes its connection anyway (`Connection: close`).
    const socket = this.connection;
    if (!this.closed) {
      if (finalFrame !== undefined) this.res.write(finalFrame);
      this.res.end();
    }
    if (socket.destroyed) return;
    const timer = setTimeout(() => socket.destroy(), graceMs);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  }

  private readonly onGone = (): void => {
    this.gone = true;
    this.connection.off('close', this.onGone);
    this.wake();
  };

  /** Re-checks every wait: called when a frame has left Node's buffers, on 'drain' and on 'close'. */
  private readonly wake = (): void => {
    for (const check of this.waiters) check();
  };

  private below(): boolean {
    return this.res.writableLength <= this.highWaterBytes;
  }

  private waitBelow(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (this.closed) finish(() => reject(new ClientGone()));
        else if (this.below()) finish(resolve);
      };
      const stall = setTimeout(() => finish(() => reject(new SlowClient(this.stallMs))), this.stallMs);
      const finish = (settle: () => void): void => {
        clearTimeout(stall);
        this.res.off('drain', check);
        this.waiters.delete(check);
        settle();
      };
      this.res.on('drain', check);
      this.waiters.add(check);
      check();
    });
  }
}
