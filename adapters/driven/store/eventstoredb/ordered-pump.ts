import type { Readable } from 'node:stream';

/**
 * Turns a client stream (events as chunks, plus out-of-band markers the client emits as events: `caughtUp`,
 * checkpoints) into one pull-based sequence in server order.
 *
 * The client emits a marker while it processes the server message, but the events before it may still sit in the
 * stream's buffer (paused for back-pressure), so a marker is held until every chunk produced before it has been
 * handed over: it is due after `received + readableLength` chunks at the time it is raised.
 *
 * Back-pressure: past `highWater` undelivered items the source is paused, which stops reading from the gRPC call;
 * the server then buffers and eventually drops a subscriber that stays behind, which the caller handles by
 * resubscribing. Memory stays bounded either way. With a `budget`, the source is also paused once the undelivered
 * items' sizes reach its bytes (at least one item is always queued), and resumed below it: a count alone let a reader
 * that stalled hold 256 large events (review 294).
 */
export interface PumpBudget<T> {
  readonly bytes: number;
  /** An item's size as it was received; markers count for nothing. */
  readonly sizeOf: (item: T) => number;
}

export class OrderedPump<T> {
  private readonly queue: { readonly item: T; readonly bytes: number }[] = [];
  private readonly held: { readonly due: number; readonly item: T }[] = [];
  private queuedBytes = 0;
  private received = 0;
  private finished = false;
  private failure: { readonly error: unknown } | undefined;
  private waiter: (() => void) | undefined;

  constructor(
    private readonly source: Readable,
    convert: (chunk: unknown) => T,
    private readonly highWater = 256,
    private readonly budget?: PumpBudget<T>,
  ) {
    source.on('data', (chunk: unknown) => {
      this.received += 1;
      const item = convert(chunk);
      const bytes = budget === undefined ? 0 : budget.sizeOf(item);
      this.queue.push({ item, bytes });
      this.queuedBytes += bytes;
      this.releaseDue();
      if (this.queue.length >= this.highWater || (budget !== undefined && this.queuedBytes >= budget.bytes)) source.pause();
      this.wake();
    });
    source.once('end', () => this.finish());
    source.once('close', () => this.finish());
    // Chunks still buffered in the source after a failure are dropped: resubscribing from the last position the
    // consumer saw fetches them again, in order.
    source.on('error', (error: unknown) => {
      this.failure ??= { error };
      this.finish();
    });
  }

  /** Queues a marker after every chunk the source has produced so far. */
  signal(item: T): void {
    const due = this.received + this.source.readableLength;
    if (due <= this.received) this.queue.push({ item, bytes: 0 });
    else this.held.push({ due, item });
    this.wake();
  }

  /** Items received or raised and not yet delivered. */
  get queued(): number {
    return this.queue.length;
  }

  /** Stops delivering: pending and later `next()` calls see the end. */
  close(): void {
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.held.length = 0;
    this.failure = undefined;
    this.finish();
  }

  async next(): Promise<IteratorResult<T, undefined>> {
    for (;;) {
      const queued = this.queue.shift();
      if (queued !== undefined) {
        this.queuedBytes -= queued.bytes;
        const belowBudget = this.budget === undefined || this.queuedBytes < this.budget.bytes;
        if (this.queue.length < this.highWater / 2 && belowBudget && this.source.isPaused() && !this.finished) this.source.resume();
        return { done: false, value: queued.item };
      }
      if (this.failure !== undefined) throw this.failure.error;
      if (this.finished) return { done: true, value: undefined };
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  private releaseDue(): void {
    while (this.held.length > 0 && this.held[0]!.due <= this.received) this.queue.push({ item: this.held.shift()!.item, bytes: 0 });
  }

  private finish(): void {
    if (this.failure === undefined) for (const { item } of this.held.splice(0)) this.queue.push({ item, bytes: 0 });
    this.finished = true;
    this.wake();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }
}
