import type { EventStore, RecordedEvent } from '../../domain/ports/event-store.ts';
import { isOwnStream } from '../../domain/own-record.ts';
import type { Checkpointable } from './batch.ts';
import type { Checkpoint } from './checkpoints.ts';

/**
 * What may be a read model's checkpoint on `store`: a record Credence wrote on a store that may drop other
 * applications' (EventStoreDB, review 179); any record on a gapless one (the embedded store), as before.
 */
export const checkpointableOn = (store: Pick<EventStore, 'gapless'>): Checkpointable =>
  store.gapless === true ? () => true : (record: RecordedEvent) => isOwnStream(record.streamId);

/**
 * Where reads of the store resume for a read model whose checkpoint is `checkpoint`: after it, when it is a record
 * Credence wrote (what this version keeps, batch.ts), or on a gapless store (every record stays). An earlier version
 * kept whatever record it handled last, another application's included (no `occurredAt`: no Credence event), and on
 * EventStoreDB that record leaves $all once its stream is scavenged: the server then refuses to start after it
 * (review 179). Such a checkpoint is resumed after the newest of Credence's records when that is not past it, else
 * from the start; the records up to the checkpoint are passed over (pastCheckpoint), not handled again.
 */
export const resumePointOf = async (store: EventStore, checkpoint: Checkpoint | undefined): Promise<bigint | undefined> => {
  if (checkpoint === undefined) return undefined;
  if (store.gapless === true || checkpoint.occurredAt !== '') return checkpoint.position;
  // A record without `occurredAt` may still be Credence's (a command id's claim): the record there says.
  const there = await store.recordAt?.(checkpoint.position);
  if (there !== undefined && there.id === checkpoint.eventId && isOwnStream(there.streamId)) return checkpoint.position;
  const own = await store.ownHeadPosition?.();
  return own !== undefined && own <= checkpoint.position ? own : undefined;
};
