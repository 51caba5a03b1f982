import type { EntityKind } from '../../domain/streams.ts';
import { MACHINES, stateOf, type EntitySnapshot } from '../../machines/index.ts';

/** An entity as the verifier holds it: replayed from its events, or read back from a checkpoint (RestoredEntity). */
export interface VerifiedEntity {
  readonly kind: EntityKind;
  readonly id: string;
  snapshot: EntitySnapshot;
  /** The command id of the stream's last append (kept in a checkpoint since it was; an older one has none). */
  lastCommandId?: string;
  /** The stream's last revision seen (kept in a checkpoint likewise). */
  lastRevision?: bigint;
}

/** XState's own way back from a persisted state value and context to a snapshot of the same machine. */
export const restoreSnapshot = (kind: EntityKind, value: unknown, context: Record<string, unknown>): EntitySnapshot =>
  MACHINES[kind].resolveState({ value: value as never, context: context as never }) as unknown as EntitySnapshot;

/**
 * An entity read back from a checkpoint. Its machine snapshot is restored only when an event or a guard needs it:
 * a re-verification touches few of the entities, and the counts per state read the persisted state value.
 */
export class RestoredEntity implements VerifiedEntity {
  #snapshot: EntitySnapshot | undefined;
  lastCommandId?: string;
  lastRevision?: bigint;
  constructor(
    readonly kind: EntityKind,
    readonly id: string,
    readonly persistedValue: string | Record<string, unknown>,
    readonly persistedContext: Record<string, unknown>,
  ) {}

  get snapshot(): EntitySnapshot {
    return (this.#snapshot ??= restoreSnapshot(this.kind, this.persistedValue, this.persistedContext));
  }

  set snapshot(snapshot: EntitySnapshot) {
    this.#snapshot = snapshot;
  }

  /** Whether the snapshot was restored or replaced since the checkpoint. */
  get touched(): boolean {
    return this.#snapshot !== undefined;
  }
}

/** The state an entity is counted under: a restored entity's persisted value, until its snapshot is restored. */
export const stateOfEntity = (e: { snapshot: EntitySnapshot }): string =>
  e instanceof RestoredEntity && !e.touched ? String(e.persistedValue) : stateOf(e.snapshot);
