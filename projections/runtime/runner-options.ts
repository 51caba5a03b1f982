import type Database from 'better-sqlite3';
import type { EventStore } from '../../domain/ports/event-store.ts';
import type { OnRulesChanged } from './rules.ts';
import type { Projection } from './types.ts';

export interface RunnerOptions {
  readonly db: Database.Database;
  readonly store: EventStore;
  readonly projections: readonly Projection[];
  /**
   * Events read per page and applied per SQLite transaction at most (default 2,000: each commit rewrites every page
   * the batch dirtied, so fewer, larger transactions write less; 500 took a third more CPU per event in catch-up).
   */
  readonly batchSize?: number;
  /**
   * A projection with reactions commits its transaction once it has been open this long (ms, default 100), so a
   * slow reaction keeps neither the other projections (which wait for the connection, let go at each commit) nor the
   * checkpoint far behind.
   */
  readonly maxBatchMs?: number;
  /** Called with an error a live projection could not get past; the projection stops there. */
  readonly onError?: (name: string, error: unknown) => void;
  /**
   * A read model built under other rules than its projection's (the audit trail under another signing policy), found
   * before it is extended: `refuse` (the default) throws ReadModelRulesChanged, writing nothing, for a process that
   * only reads the record (a CLI query, a library script); `rebuild` replays it from position 0 under the new rules,
   * for the process that holds the deployment's policy (the service: OpenOptions.onReadModelRulesChanged).
   */
  readonly onRulesChanged?: OnRulesChanged;
}
