import type Database from 'better-sqlite3';
import type { AnyStateMachine } from 'xstate';
import { describeRefusal } from '../../domain/errors.ts';
import { entityIdOf } from '../../domain/events/index.ts';
import type { DecodedEvent } from '../../domain/stored.ts';
import { parseStreamId, type EntityKind } from '../../domain/streams.ts';
import { evaluate, initialSnapshot, MACHINES, stateOf, type EntitySnapshot } from '../../machines/index.ts';
import type { Projection } from '../runtime/index.ts';
import { readSnapshot, resetEntityTables, setupEntityTables, writeEntity, type StoredSnapshot } from './tables.ts';

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

/**
 * Applies one stored event to its entity's row the way `applyStored` rebuilds an entity (machines/rebuild.ts): the
 * machine with its own guards, cross-entity facts trusted (they were checked when the event was decided). An event
 * the machine refuses, or one addressed to another entity, leaves the state as it was and marks the row broken;
 * the row still moves to the event's revision and position, since the stream did.
 */
const applyToEntity = (db: Database.Database, e: DecodedEvent): void => {
  const ref = parseStreamId(e.record.streamId);
  if (ref === undefined) return;
  const before = restore(ref.kind, ref.streamId, readSnapshot(db, ref.streamId));
  const addressee = entityIdOf(e.event);
  const verdict =
    addressee === ref.id
      ? evaluate(ref.kind, before, { ...e.event, at: e.at, facts: {}, trusted: true })
      : ({ ok: false, reason: `${e.event.type} is addressed to ${addressee} but stored in ${ref.streamId}` } as const);
  const after = verdict.ok ? verdict.snapshot : before;
  const broken = verdict.ok
    ? undefined
    : { position: e.record.position, reason: 'reason' in verdict ? verdict.reason : describeRefusal(e.event.type, verdict) };
  writeEntity(
    db,
    {
      streamId: ref.streamId,
      kind: ref.kind,
      id: ref.id,
      state: stateOf(after),
      revision: e.record.revision,
      position: e.record.position,
      updatedAt: e.metadata.occurredAt,
      ...(broken !== undefined ? { broken } : {}),
    },
    { value: after.value, context: after.context as Record<string, unknown> },
  );
};

/**
 * The entities read model (issue 12: list entities by kind and state, paginated): each entity's current machine
 * state, revision, last position and time. Every event type; disposable like every read model, and a rebuild from
 * position 0 gives the same rows.
 */
export const entitiesProjection = (): Projection => ({
  name: 'entities',
  setup: setupEntityTables,
  reset: resetEntityTables,
  apply: applyToEntity,
});
