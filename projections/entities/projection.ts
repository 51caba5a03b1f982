import type Database from 'better-sqlite3';
import type { AnyStateMachine } from 'xstate';
import { describeRefusal } from '../../domain/errors.ts';
import { entityIdOf } from '../../domain/events/index.ts';
import type { DecodedEvent } from '../../domain/stored.ts';
import { parseStreamId, type EntityKind } from '../../domain/streams.ts';
import { evaluate, initialSnapshot, machineEvent, MACHINES, stateOf, type EntitySnapshot } from '../../machines/index.ts';
import { BatchSlot, type Projection } from '../runtime/index.ts';
import { ENTITIES_STATE_INDEX, readSnapshot, readSnapshots, resetEntityTables, setupEntityTables, writeEntities, type EntityRow, type StoredSnapshot } from './tables.ts';

/** The stored snapshot as the machine's snapshot again (XState resolves a state value and a context). */
const restore = (kind: EntityKind, streamId: string, stored: StoredSnapshot | undefined): EntitySnapshot => {
  if (stored === undefined) return initialSnapshot(kind);
  try {
    return (MACHINES[kind] as AnyStateMachine).resolveState({ value: stored.value as string, context: stored.context }) as EntitySnapshot;
  } catch (error) {
    // A state the machine no longer has: the rows were built by another version of the machines.
    throw new Error(`entities read model: ${streamId} holds a snapshot this version of the ${kind} machine cannot resume ` +
      `(${error instanceof Error ? error.message : String(error)}); run credence projections rebuild entities`);
  }
};

/** Facts are trusted here (checked when each event was decided): one empty object serves every event. */
const NO_FACTS = Object.freeze({});

/** An entity as the events of the batch so far left it, written once when the batch ends. */
interface Pending {
  readonly row: EntityRow;
  readonly snapshot: EntitySnapshot;
}

/**
 * Applies one stored event to its entity the way `applyStored` rebuilds an entity (machines/rebuild.ts): the machine
 * with its own guards, cross-entity facts trusted (they were checked when the event was decided). An event the
 * machine refuses, or one addressed to another entity, leaves the state as it was and marks the row broken (the
 * first such event stays the one named); the row still moves to the event's revision and position, since the
 * stream did. The entity comes from `pending` when an earlier event of the batch touched it, else from its row.
 */
const step = (stored: (streamId: string) => StoredSnapshot | undefined, pending: Map<string, Pending>, e: DecodedEvent): void => {
  const ref = parseStreamId(e.record.streamId);
  if (ref === undefined) return;
  const held = pending.get(ref.streamId);
  const before = held?.snapshot ?? restore(ref.kind, ref.streamId, stored(ref.streamId));
  const addressee = entityIdOf(e.event);
  const verdict =
    addressee === ref.id
      ? evaluate(ref.kind, before, machineEvent(e.event, e.at, NO_FACTS, true))
      : ({ ok: false, reason: `${e.event.type} is addressed to ${addressee} but stored in ${ref.streamId}` } as const);
  const after = verdict.ok ? verdict.snapshot : before;
  const broken =
    held?.row.broken ??
    (verdict.ok ? undefined : { position: e.record.position, reason: 'reason' in verdict ? verdict.reason : describeRefusal(e.event.type, verdict) });
  pending.set(ref.streamId, {
    row: {
      streamId: ref.streamId,
      kind: ref.kind,
      id: ref.id,
      state: stateOf(after),
      revision: e.record.revision,
      position: e.record.position,
      updatedAt: e.metadata.occurredAt,
      ...(broken !== undefined ? { broken } : {}),
    },
    snapshot: after,
  });
};

const write = (db: Database.Database, pending: ReadonlyMap<string, Pending>): void => {
  const rows: [EntityRow, StoredSnapshot][] = [];
  for (const { row, snapshot } of pending.values()) rows.push([row, { value: snapshot.value, context: snapshot.context as Record<string, unknown> }]);
  writeEntities(db, rows);
};

/**
 * A batch's events, stepped when it ends: the snapshots of the entities they touch are read in one query
 * (`readSnapshots`), each event then steps its entity in order, and each entity is written once (`writeEntities`).
 */
const stepAll = (db: Database.Database, events: readonly DecodedEvent[]): void => {
  const stored = readSnapshots(db, new Set(events.map((e) => e.record.streamId)));
  const pending = new Map<string, Pending>();
  for (const e of events) step((streamId) => stored.get(streamId), pending, e);
  write(db, pending);
};

/**
 * The entities read model (issue 12: list entities by kind and state, paginated): each entity's current machine
 * state, revision, last position and time. Every event type; disposable like every read model, and a rebuild from
 * position 0 gives the same rows.
 *
 * In a batch the events are held and stepped when it ends (`stepAll`): the rows they touch are read in one query, and
 * each entity is written once, where the last of its events in the batch left it; its next event in the batch starts
 * from the machine's snapshot in memory rather than from its row written and read back. That is
 * the same snapshot, since contexts hold only JSON values (machines/contexts.ts): the rows equal those of one event
 * at a time (`test/read-models-batched-equal-event-by-event.test.ts`).
 */
export const entitiesProjection = (): Projection => {
  const batch = new BatchSlot<DecodedEvent[]>();
  return {
    name: 'entities',
    queryIndexes: [ENTITIES_STATE_INDEX],
    setup: setupEntityTables,
    reset: resetEntityTables,
    apply(db, e) {
      const held = batch.held(db);
      if (held !== undefined) {
        held.push(e);
        return;
      }
      const one = new Map<string, Pending>();
      step((streamId) => readSnapshot(db, streamId), one, e);
      write(db, one);
    },
    beginBatch: (db) => batch.open(db, [], stepAll),
  };
};
