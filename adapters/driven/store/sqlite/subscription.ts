import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { RecordedEvent, StoreSubscription } from '../../../../domain/ports/event-store.ts';
import type { AppendNotifier } from './notifier.ts';
import type { Page } from './pages.ts';

export interface SubscriptionSource {
  /** The next page of matching events strictly after `after`, filter already applied. */
  readonly readPage: (after: bigint) => Page;
  readonly notifier: AppendNotifier;
  /** How often to look for appends made through another connection, which the notifier never hears about. */
  readonly pollIntervalMs: number;
  readonly onEnd: (subscription: SqliteSubscription) => void;
}

const DONE: IteratorResult<RecordedEvent> = { done: true, value: undefined };

/**
 * Catch-up then live, pulled by the consumer: a page is read only when the previous one has been consumed, so a
 * slow consumer holds at most one page in memory (the store's page size in records, and no more than the
 * subscription's `pageBytes` of stored payload when it asked for that) and never slows appends down. Catch-up and
 * live are the same loop (read after the cursor, else wait for a write), which is what guarantees global order with
 * no gap and no duplicate across the switch.
 */
export class SqliteSubscription implements StoreSubscription, AsyncIterator<RecordedEvent> {
  private cursor: bigint;
  private buffer: readonly RecordedEvent[] = [];
  private index = 0;
  private ended = false;
  private wake: (() => void) | undefined;
  // Calls to next() are served one after the other, like a for-await loop would issue them.
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly source: SubscriptionSource,
    startAfter: bigint,
  ) {
    this.cursor = startAfter;
  }

  [Symbol.asyncIterator](): AsyncIterator<RecordedEvent> {
    return this;
  }

  next(): Promise<IteratorResult<RecordedEvent>> {
    const result = this.queue.then(() => this.pull());
    this.queue = result.catch(() => undefined);
    return result;
  }

  async return(): Promise<IteratorResult<RecordedEvent>> {
    this.end();
    return DONE;
  }

  async unsubscribe(): Promise<void> {
    this.end();
  }

  /** Synchronous so that the store can end every subscription before it closes its connection. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.buffer = [];
    this.wake?.();
    this.source.onEnd(this);
  }

  private async pull(): Promise<IteratorResult<RecordedEvent>> {
    for (;;) {
      if (this.ended) return DONE;
      const event = this.buffer[this.index];
      if (event !== undefined) {
        this.index += 1;
        return { done: false, value: event };
      }
      let page: Page;
      try {
        page = this.source.readPage(this.cursor);
      } catch (error) {
        this.end();
        throw error;
      }
      this.buffer = page.events;
      this.index = 0;
      this.cursor = page.cursor;
      // Reading and starting to wait happen in one synchronous step, so no in-process append can slip between.
      if (page.events.length === 0 && page.atHead) await this.waitForWrite();
      // A window of the log with no match (a sparse prefix): the next one after a turn of the event loop.
      else if (page.events.length === 0) await yieldToLoop();
    }
  }

  private waitForWrite(): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        stopListening();
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(wake, this.source.pollIntervalMs);
      // A subscription alone must not keep the process alive.
      timer.unref();
      const stopListening = this.source.notifier.listen(wake);
      this.wake = wake;
    });
  }
}
