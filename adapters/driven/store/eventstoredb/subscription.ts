import type { RecordedEvent, StoreSubscription } from '../../../../domain/ports/event-store.ts';
import type { EventReader } from './event-reader.ts';

const DONE: IteratorResult<RecordedEvent, undefined> = { done: true, value: undefined };

/** The port's catch-up-then-live subscription over a resubscribing reader. */
export class EventStoreDbSubscription implements StoreSubscription, AsyncIterator<RecordedEvent, undefined> {
  // Calls to next() are served one after the other, like a for-await loop issues them.
  private queue: Promise<unknown> = Promise.resolve();
  private ended = false;

  constructor(
    private readonly reader: EventReader,
    private readonly onEnd: (subscription: EventStoreDbSubscription) => void,
  ) {}

  [Symbol.asyncIterator](): AsyncIterator<RecordedEvent, undefined> {
    return this;
  }

  next(): Promise<IteratorResult<RecordedEvent, undefined>> {
    const result = this.queue.then(() => (this.ended ? DONE : this.reader.next()));
    this.queue = result.catch(() => this.unsubscribe());
    return result;
  }

  async return(): Promise<IteratorResult<RecordedEvent, undefined>> {
    await this.unsubscribe();
    return DONE;
  }

  async unsubscribe(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.onEnd(this);
    await this.reader.close();
  }
}
