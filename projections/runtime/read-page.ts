import { decodeStored, type DecodedEvent } from '../../domain/stored.ts';
import type { EventStore, ReadAllOptions, RecordedEvent } from '../../domain/ports/event-store.ts';
import { eachRecord } from '../../domain/ports/each-record.ts';
import type { DecodedBatch } from './batch.ts';

/** An undecodable event is replay's finding to report: undefined, and projections pass over it. */
export const decodeOnce = (record: RecordedEvent): DecodedEvent | undefined => {
  const result = decodeStored(record);
  return result.ok ? result.value : undefined;
};

/** One page of a catch-up: the records `readAll(options)` gives, through synchronous pages where the store has them. */
export const readPage = async (store: EventStore, options: ReadAllOptions): Promise<RecordedEvent[]> => {
  const records: RecordedEvent[] = [];
  await eachRecord(store, options, (record) => records.push(record));
  return records;
};

/**
 * The records of a page (and their decoded events, index by index) of a projection's own event types (`own`;
 * undefined: every type), for a page read once for several projections.
 */
export const ownOfPage = (
  page: readonly RecordedEvent[],
  decoded: DecodedBatch,
  own: ReadonlySet<string> | undefined,
): { readonly batch: readonly RecordedEvent[]; readonly events: DecodedBatch } => {
  let batch = page;
  let events: DecodedBatch = decoded;
  if (own !== undefined) {
    const records: RecordedEvent[] = [];
    const mine: (DecodedEvent | undefined)[] = [];
    for (let i = 0; i < page.length; i++) {
      if (own.has(page[i]!.type)) {
        records.push(page[i]!);
        mine.push(decoded[i]);
      }
    }
    batch = records;
    events = mine;
  }
  return { batch, events };
};
