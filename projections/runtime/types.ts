import type Database from 'better-sqlite3';
import type { DecodedEvent } from '../../domain/stored.ts';

/**
 * A projection: a name, the events it handles, and handlers. `apply` runs inside the same SQLite transaction
 * as the projection's checkpoint, so a crash can neither double-apply nor skip an event. `react` (optional)
 * performs idempotent side effects (commands with derived ids) before `apply`; after a crash it runs again
 * for the events past the checkpoint, and its idempotency absorbs the repeat.
 */
export interface Projection {
  readonly name: string;
  /** Event types this projection handles; others are skipped by the store-side filter. Omitted: all types. */
  readonly eventTypes?: readonly string[];
  /** Creates the read-model tables (idempotent). */
  setup(db: Database.Database): void;
  /** Drops the read-model tables' rows so the projection can be rebuilt from position 0. */
  reset(db: Database.Database): void;
  apply?(db: Database.Database, event: DecodedEvent): void;
  react?(event: DecodedEvent): Promise<void>;
  /**
   * Optional, for projections with reactions: called with the events of a batch before their reactions run, to
   * fetch in one call what the reactions will need one by one (pseudonym rotation derives the pseudonyms of every
   * node registered in the batch in one Secure Environment call). It must not write: a batch may be retried.
   */
  prepare?(events: readonly DecodedEvent[]): Promise<void>;
}

export interface ProjectionLag {
  readonly name: string;
  readonly checkpoint: bigint | undefined;
  readonly head: bigint | undefined;
  /** Events stored after the checkpoint that this projection handles. */
  readonly eventsBehind: number;
  /** Time between the last handled event and the newest stored event, in seconds. */
  readonly secondsBehind: number;
}
