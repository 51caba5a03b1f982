import type Database from 'better-sqlite3';
import { deferQueryIndexes, restoreQueryIndexes } from './query-indexes.ts';
import type { Projection } from './types.ts';

/** The query indexes a runner's catch-ups drop while they have a long way to go (catch-up.ts, query-indexes.ts). */
export class DeferredQueryIndexes {
  readonly #db: Database.Database;
  /** Projections whose query indexes a catch-up that has ended dropped and could not build again. */
  readonly #owed = new Set<Projection>();

  constructor(db: Database.Database) {
    this.#db = db;
  }

  /**
   * Runs a catch-up; when its first page comes back full (a long way to go), the query indexes of the projections it
   * takes from position 0 are dropped until it ends, then built once (query-indexes.ts). A short catch-up (a settle
   * after a few commands) leaves the schema alone.
   *
   * Indexes that could not be built again (a full disk) stay owed: the next catch-up builds them, although its
   * projections are past position 0 by then and defer nothing. A catch-up that failed reports its own error, not the
   * index build's.
   */
  async around(projections: readonly Projection[], run: (longWay: () => Promise<void>) => Promise<number>): Promise<number> {
    let deferred: readonly Projection[] = [];
    let asked = false;
    const longWay = async () => {
      if (asked) return;
      asked = true;
      deferred = await deferQueryIndexes(this.#db, projections);
    };
    let outcome: { readonly ok: true; readonly handled: number } | { readonly ok: false; readonly error: unknown };
    try {
      outcome = { ok: true, handled: await run(longWay) };
    } catch (error) {
      outcome = { ok: false, error };
    }
    // Not the indexes another catch-up still running has dropped: only its own and those owed by one that ended.
    const owed = [...new Set([...deferred, ...this.#owed])];
    try {
      await restoreQueryIndexes(this.#db, owed);
      for (const p of owed) this.#owed.delete(p);
    } catch (error) {
      for (const p of deferred) this.#owed.add(p);
      if (outcome.ok) throw error;
    }
    if (!outcome.ok) throw outcome.error;
    return outcome.handled;
  }
}
