import type { EventStore } from '../../domain/ports/event-store.ts';
import type { Follower } from './live-followers.ts';
import { LAG_COUNT_LIMIT } from './live-lag.ts';

/** Remembers what a component could not handle at start, so its lag counts it (bounded, one read). */
export const countBacklog = async (
  store: EventStore,
  f: Follower,
  startHead: bigint | undefined,
  report: (component: string, error: unknown) => void,
): Promise<void> => {
  if (f.error === undefined || startHead === undefined || (f.handledThrough !== undefined && f.handledThrough >= startHead)) return;
  let count = 0;
  let oldest: number | undefined;
  try {
    for await (const record of store.readAll({ ...(f.handledThrough !== undefined ? { afterPosition: f.handledThrough } : {}), maxCount: LAG_COUNT_LIMIT })) {
      if (record.position > startHead) break;
      oldest ??= Date.parse(String(record.metadata['occurredAt']));
      count++;
    }
  } catch (error) {
    report(f.name, error);
  }
  f.backlog = { count, oldest: Number.isNaN(oldest) ? undefined : oldest };
};
