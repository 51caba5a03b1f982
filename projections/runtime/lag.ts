import type Database from 'better-sqlite3';
import type { EventStore, RecordedEvent } from '../../domain/ports/index.ts';
import { isOwnStream } from '../../domain/own-record.ts';
import { readCheckpoint } from './checkpoints.ts';
import { resumePointOf } from './resume-point.ts';
import type { Projection, ProjectionLag } from './types.ts';

/**
 * How far a projection's checkpoint is behind the store: events still to handle (counted up to `countLimit`) and the
 * seconds between the last one handled and the newest. A read that stopped at `countLimit` records says its count is a
 * floor (`eventsBehindAtLeast`): records it passed over (handled, or another application's) are among those it read,
 * so such a count may be under the limit and still not the lag (review 398). Reads only: it runs no projection's setup, so it may be asked
 * of read models another process writes (`credence projections` beside a running service).
 */
export const projectionLag = async (
  db: Database.Database,
  store: EventStore,
  projection: Pick<Projection, 'name' | 'eventTypes'>,
  countLimit = 1_000_000,
): Promise<ProjectionLag> => {
  const { name } = projection;
  const checkpoint = readCheckpoint(db, name);
  let eventsBehind = 0;
  let read = 0;
  let newest: RecordedEvent | undefined;
  let oldest: RecordedEvent | undefined;
  // The count's bound, read before it and said as its `head`: the count is of the events up to it, none after, so a
  // caller counting what comes after it (the live runtime's subscription, live-backlog.ts) counts each event once
  // whatever is appended meanwhile. Read after the count, it could name a position the count did not reach (an event
  // appended in between counted by neither) or, answered late, one short of an event it counted (counted twice).
  const head = await store.headPosition();
  const after = await resumePointOf(store, checkpoint);
  for await (const record of store.readAll({
    ...(after !== undefined ? { afterPosition: after } : {}),
    ...(projection.eventTypes !== undefined ? { filter: { eventTypes: projection.eventTypes } } : {}),
    maxCount: countLimit,
  })) {
    if (head === undefined || record.position > head) break;
    read++;
    // Up to the checkpoint: handled (read again when it is no readable position, resume-point.ts). Another
    // application's records move no checkpoint (batch.ts), and are nothing for the read model to handle.
    if (checkpoint !== undefined && record.position <= checkpoint.position) continue;
    if (store.gapless !== true && !isOwnStream(record.streamId)) continue;
    eventsBehind++;
    oldest ??= record;
    newest = record;
  }
  const timeOf = (r: RecordedEvent) => Date.parse(String(r.metadata['occurredAt']));
  // Nothing handled yet: the projection is behind by everything from the oldest event it still has to handle.
  const handledAt = checkpoint !== undefined ? Date.parse(checkpoint.occurredAt) : oldest !== undefined ? timeOf(oldest) : undefined;
  const secondsBehind = newest === undefined || handledAt === undefined ? 0 : Math.max(0, (timeOf(newest) - handledAt) / 1000);
  return {
    name,
    checkpoint: checkpoint?.position,
    head,
    eventsBehind,
    ...(read >= countLimit ? { eventsBehindAtLeast: true as const } : {}),
    secondsBehind,
  };
};
