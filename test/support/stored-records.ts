import type { EventStore, RecordedEvent } from '../../domain/ports/event-store.ts';

/** Every record the store holds, in order: for tests that look at what was written. */
export const storedRecords = async (store: EventStore): Promise<RecordedEvent[]> => {
  const out: RecordedEvent[] = [];
  for await (const r of store.readAll()) out.push(r);
  return out;
};
