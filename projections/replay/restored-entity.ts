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

/** What an entity of a checkpoint holds past its kind, id and state value: read from its line when first needed. */
export interface RestoredRest {
  readonly context: Record<string, unknown>;
  readonly lastRevision?: bigint;
  readonly lastCommandId?: string;
}

/**
 * An entity read back from a checkpoint. Its machine snapshot is restored only when an event or a guard needs it:
 * a re-verification touches few of the entities, and the counts per state read the persisted state value. Read from a
 * checkpoint file's line, the rest of it (its context, last revision and command id) is parsed and checked only when
 * first read (`rest` throws when it is not what a checkpoint holds: the caller verifies in full); until then, and
 * while nothing of it changes, it is written back as that line (`line`).
 */
export class RestoredEntity implements VerifiedEntity {
  #snapshot: EntitySnapshot | undefined;
  #rest: RestoredRest | (() => RestoredRest);
  #lastCommandId: string | undefined;
  #lastRevision: bigint | undefined;
  /** The line it was read from, while it is what the entity still is; undefined once anything of it changed. */
  #line: string | undefined;
  #read = false;
  constructor(
    readonly kind: EntityKind,
    readonly id: string,
    readonly persistedValue: string | Record<string, unknown>,
    rest: Record<string, unknown> | RestoredRest | (() => RestoredRest),
    line?: string,
  ) {
    this.#rest = typeof rest === 'function' ? rest : line === undefined ? { context: rest as Record<string, unknown> } : (rest as RestoredRest);
    this.#line = line;
  }

  #restRead(): RestoredRest {
    if (typeof this.#rest === 'function') this.#rest = this.#rest();
    if (!this.#read) {
      this.#read = true;
      this.#lastRevision ??= this.#rest.lastRevision;
      this.#lastCommandId ??= this.#rest.lastCommandId;
    }
    return this.#rest;
  }

  get persistedContext(): Record<string, unknown> {
    return this.#restRead().context;
  }

  get lastRevision(): bigint | undefined {
    this.#restRead();
    return this.#lastRevision;
  }

  set lastRevision(revision: bigint | undefined) {
    this.#restRead();
    if (revision !== this.#lastRevision) this.#line = undefined;
    this.#lastRevision = revision;
  }

  get lastCommandId(): string | undefined {
    this.#restRead();
    return this.#lastCommandId;
  }

  set lastCommandId(commandId: string | undefined) {
    this.#restRead();
    if (commandId !== this.#lastCommandId) this.#line = undefined;
    this.#lastCommandId = commandId;
  }

  get snapshot(): EntitySnapshot {
    return (this.#snapshot ??= restoreSnapshot(this.kind, this.persistedValue, this.persistedContext));
  }

  set snapshot(snapshot: EntitySnapshot) {
    this.#line = undefined;
    this.#snapshot = snapshot;
  }

  /** Whether the snapshot was restored or replaced since the checkpoint. */
  get touched(): boolean {
    return this.#snapshot !== undefined;
  }

  /** The checkpoint line it was read from, while nothing of it has changed since (written back as it is). */
  get line(): string | undefined {
    return this.#line;
  }
}

/** The state an entity is counted under: a restored entity's persisted value, until its snapshot is restored. */
export const stateOfEntity = (e: { snapshot: EntitySnapshot }): string =>
  e instanceof RestoredEntity && !e.touched ? String(e.persistedValue) : stateOf(e.snapshot);
