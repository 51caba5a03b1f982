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
 * resubscribing. Memory stays bounded either way.
 */
export class OrderedPump<T> {
  private readonly queue: T[] = [];
  private readonly held: { readonly due: number; readonly item: T }[] = [];
  private received = 0;
  private finished = false;
  private failure: { readonly error: unknown } | undefined;
  private waiter: (() => void) | undefined;

  constructor(
    private readonly source: Readable,
    convert: (chunk: unknown) => T,
    private readonly highWater = 256,
  ) {
    source.on('data', (chunk: unknown) => {
      this.received += 1;
      this.queue.push(convert(chunk));
      this.releaseDue();
      if (this.queue.length >= this.highWater) source.pause();
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
    if (due <= this.received) this.queue.push(item);
    else this.held.push({ due, item });
    this.wake();
  }

  /** Stops delivering: pending and later `next()` calls see the end. */
  close(): void {
    this.queue.length = 0;
    this.held.length = 0;
    this.failure = undefined;
    this.finish();
  }

  async next(): Promise<IteratorResult<T, undefined>> {
    for (;;) {
      const item = this.queue.shift();
      if (item !== undefined) {
        if (this.queue.length < this.highWater / 2 && this.source.isPaused() && !this.finished) this.source.resume();
        return { done: false, value: item };
      }
      if (this.failure !== undefined) throw this.failure.error;
      if (this.finished) return { done: true, value: undefined };
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  private releaseDue(): void {
    while (this.held.length > 0 && this.held[0]!.due <= this.received) this.queue.push(this.held.shift()!.item);
  }

  private finish(): void {
    if (this.failure === undefined) for (const { item } of this.held.splice(0)) this.queue.push(item);
    this.finished = true;
    this.wake();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }
}
