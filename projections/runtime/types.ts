import type Database from 'better-sqlite3';
import type { DecodedEvent } from '../../domain/stored.ts';

export type ResetCause = 'rebuild' | 'another-log';

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
  /**
   * Optional: the secondary indexes only queries read through (`apply` never does), each with its name and its
   * `CREATE INDEX IF NOT EXISTS` statement, which `setup` runs too. A long catch-up from position 0 (a first start, a
   * rebuild; at least a full page to go) drops them and builds each once at the end from sorted keys, instead of
   * inserting every row into each at a random place (the bulk of a catch-up's write cost). Queries still answer
   * meanwhile, more slowly.
   */
  readonly queryIndexes?: readonly QueryIndex[];
  /**
   * Optional: what the rows depend on besides the events (the audit trail: the request-signing policy that judges each
   * signature). Recorded with the read model; a runner extends it only under these same rules (RunnerOptions.onRulesChanged).
   */
  readonly rules?: ReadModelRules;
  /** Creates the read-model tables (idempotent). */
  setup(db: Database.Database): void;
  /**
   * Drops the read-model tables' rows so the projection can be rebuilt from position 0. `cause` says why: a rebuild
   * asked for (`rebuild`, the default), or a read model found to be built from another log (`another-log`,
   * log-check.ts), whose positions mean nothing in the store's log and must not be kept as floors.
   */
  reset(db: Database.Database, cause?: ResetCause): void;
  apply?(db: Database.Database, event: DecodedEvent): void;
  /**
   * Optional: opens a batch, inside its transaction, before the batch's first `apply`. Until `flush` (after its last
   * `apply`, before the checkpoint is written) `apply` may hold writes back and write them together: the rows after
   * `flush` must be exactly those `apply` alone would have left event by event. `discard` drops what is held when
   * the batch fails (its transaction is rolled back). The runner batches only projections without reactions this
   * way; outside a batch `apply` writes at once. The entities read model, the compliance tables and the expiry
   * deadlines write each row once per batch, the audit trail its rows 32 to an INSERT.
   */
  beginBatch?(db: Database.Database): OpenBatch;
  /**
   * Resolves once the reaction is done, or to a `ReactionInFlight` for work it left running that neither `apply` nor
   * any later reaction of the batch reads (a command on a stream of its own, no read-model write): the runner goes on
   * to the next event and settles it before the transaction's checkpoint (batch.ts), so such reactions share group
   * commits, one sync for many, instead of waiting for one sync each. Work that finds it has to write to the read
   * model after all rejects with ReactionInTurn (reactions-in-flight.ts), and the projection reacts to that event
   * again in its turn, when the runner comes back to it.
   */
  react?(event: DecodedEvent): Promise<void | ReactionInFlight>;
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
  /**
   * Set when the count stopped at its limit (the read returned as many records as it may, counted before any was
   * passed over): `eventsBehind` is then at least the lag, not the lag, and may be below the limit (review 398).
   */
  readonly eventsBehindAtLeast?: true;
  /** Time between the last handled event and the newest stored event, in seconds. */
  readonly secondsBehind: number;
}

/** Work a reaction left running: see `Projection.react`. A failure fails its event, as a reaction's failure does. */
export interface ReactionInFlight {
  readonly settled: Promise<void>;
}

/** What `beginBatch` opened: see `Projection.beginBatch`. */
export interface OpenBatch {
  flush(): void;
  discard(): void;
}

/**
 * What a read model's rows depend on besides the events (the audit trail: the request-signing policy that judged each
 * signature): `fingerprint` changes exactly when a row could, `description` names the rules to a person (never a
 * secret). Recorded beside the checkpoint, so that rows made under other rules are never extended (rules.ts).
 */
export interface ReadModelRules {
  readonly fingerprint: string;
  readonly description: string;
}

/** A secondary index of a read model that queries read through: see `Projection.queryIndexes`. */
export interface QueryIndex {
  readonly name: string;
  /** `CREATE INDEX IF NOT EXISTS <name> ON ...`. */
  readonly create: string;
}
