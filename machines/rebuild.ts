import { CredenceError, describeRefusal } from '../domain/errors.ts';
import type { DecodedEvent, StoredRecord } from '../domain/stored.ts';
import { streamIdOf, type EntityKind } from '../domain/streams.ts';
import { evaluate, initialSnapshot, machineEvent, type EntitySnapshot } from './evaluate.ts';
import { readStored } from './stored.ts';

/** An entity rebuilt from its stream: its machine snapshot, its decoded events and its stream revision. */
export interface LoadedEntity {
  readonly kind: EntityKind;
  readonly id: string;
  readonly streamId: string;
  readonly snapshot: EntitySnapshot;
  readonly events: readonly DecodedEvent[];
  /**
   * Revision of the stream (its last record, fact claims included: appends expect it); undefined when the stream
   * does not exist. Whether the entity exists is whether it has events.
   */
  readonly revision: bigint | undefined;
}

/** A typed `broken_history` CredenceError, so a command on a broken entity is refused like any other (never untyped). */
export class BrokenHistoryError extends CredenceError {
  constructor(readonly streamId: string, readonly position: bigint, readonly reason: string) {
    super({
      code: 'broken_history',
      streamId,
      position: position.toString(10),
      reason,
      message: `${streamId} has a broken history at position ${position}: ${reason} (run credence replay)`,
    });
    this.name = 'BrokenHistoryError';
  }
}

/** Applies already-stored events to an entity; a stored event its machine refuses means the history is broken. */
export const applyStored = (entity: LoadedEntity, records: readonly StoredRecord[]): LoadedEntity => {
  let { snapshot } = entity;
  const events = [...entity.events];
  let revision = entity.revision;
  for (const record of records) {
    const read = readStored(record);
    if (read.ok === 'claim') {
      revision = record.revision;
      continue;
    }
    if (!read.ok) throw new BrokenHistoryError(entity.streamId, record.position, read.reason);
    const { event, at } = read.value;
    const verdict = evaluate(entity.kind, snapshot, machineEvent(event, at, {}, true));
    if (!verdict.ok) throw new BrokenHistoryError(entity.streamId, record.position, describeRefusal(event.type, verdict));
    snapshot = verdict.snapshot;
    events.push(read.value);
    revision = record.revision;
  }
  return { ...entity, snapshot, events, revision };
};

export const emptyEntity = (kind: EntityKind, id: string): LoadedEntity => ({
  kind,
  id,
  streamId: streamIdOf(kind, id),
  snapshot: initialSnapshot(kind, id),
  events: [],
  revision: undefined,
});

