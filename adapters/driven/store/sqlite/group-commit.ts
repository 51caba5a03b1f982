import Database from 'better-sqlite3';
import { isWriteLockHeld } from '../../files/index.ts';
import { GroupCommitError, hasNoRoom, noRoomFor, writeLockHeldBy } from './commit-errors.ts';
import { inCommitOrder, type StreamAccess } from './commit-order.ts';

/** One append waiting for its group: the work runs inside the group's transaction, in a savepoint of its own. */
interface Member<T> {
  readonly work: () => T;
  /** False when `work` writes at most one statement that can fail, which SQLite rolls back on its own. */
  readonly savepoint: boolean;
  /** The stream it writes and the facts it read, which its place in the group's commit order follows (commit-order.ts). */
  readonly access: StreamAccess | undefined;
  readonly resolve: (value: T) => void;
  readonly reject: (error: unknown) => void;
}

type Settled<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

/**
 * Whether `error` is what a savepoint-less append may throw with the group intact: a check before any write (a
 * conflict, a bad argument: not an SQLite error), or its first write refused by a constraint, which SQLite's
 * statement journal undid alone.
 */
const refusedByItsFirstWrite = (error: unknown): boolean =>
  !(error instanceof Database.SqliteError) || error.code.startsWith('SQLITE_CONSTRAINT');

/**
 * Group commit for a synchronous SQLite connection. Appends submitted during one turn of the event loop (while the
 * previous group was deciding, committing or syncing) are committed together at the next `setImmediate`: one
 * `BEGIN IMMEDIATE ... COMMIT`, so one WAL sync under `synchronous = FULL` for the whole group. Each append runs in
 * its own SAVEPOINT, so its checks (expected revision, fact revisions, idempotency) see the appends before it in
 * the group exactly as if they had committed one by one, and a refused append rolls back to its savepoint without
 * touching its neighbours. An append is acknowledged only after its COMMIT returned: acknowledged means on disk.
 * They run in submission order but for one rule (commit-order.ts): an append that read a stream as a fact runs ahead
 * of the group's appends to that stream, which would otherwise refuse it every time.
 *
 * One append's refusal never fails its neighbours, even when its write fails the whole transaction: SQLITE_FULL
 * (the disk, or `max_page_count`) or an I/O error after which SQLite rolled everything back, savepoints and all. It
 * alone is refused, with its own error, and the others are committed without it (#without). A COMMIT with no room
 * for the group's frames is tried again in halves, so only the appends the store cannot hold are refused. Neither
 * costs anything while nothing fails: no statement is added to an append.
 *
 * Why on the event loop rather than a writer thread: better-sqlite3 is synchronous, so while one group syncs no new
 * decision runs; but the engine decides a whole wave of concurrent commands between two groups, so the sync is paid
 * once per wave (docs/performance.md, "Commands, durability and memory", has the figures). A writer thread was built
 * and measured: callers acknowledged together decide together, so it either idled or halved the groups (doubling
 * the syncs), and the cloning and second connection cost 15 to 50 µs of CPU per command more than committing here.
 */
export class GroupCommitter<T> {
  #pending: Member<T>[] = [];
  #scheduled = false;
  readonly #sql;

  constructor(
    private readonly db: Database.Database,
    private readonly maxGroupSize: number,
    /** Runs after each successful COMMIT with the outcomes of the group's appends that were not refused. */
    private readonly onCommitted: (stored: readonly T[]) => void,
    /** Counts of the groups committed, and the time spent committing them (checks, inserts, sync), for metrics and benchmarks. */
    private readonly stats: { groups: number; appends: number; largestGroup: number; commitMs: number; syncMs: number },
  ) {
    this.#sql = {
      begin: db.prepare('BEGIN IMMEDIATE'),
      commit: db.prepare('COMMIT'),
      rollback: db.prepare('ROLLBACK'),
      savepoint: db.prepare('SAVEPOINT credence_append'),
      release: db.prepare('RELEASE credence_append'),
      rollbackTo: db.prepare('ROLLBACK TO credence_append'),
    };
  }

  /**
   * Queues one append; `work` runs later, inside the group transaction, and must be synchronous. `savepoint: false`
   * is for work whose only statement that can fail is its first write: a failing statement is rolled back by SQLite
   * itself (statement journal), so the neighbours keep their writes without the cost of a savepoint. `access` places
   * it in its group: ahead of the appends to a stream it read as a fact (commit-order.ts).
   */
  submit(work: () => T, savepoint = true, access?: StreamAccess): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#pending.push({ work, savepoint, access, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /**
   * Commits the next group queued. More than the largest group queued in one turn wait for the next turn, so the
   * event loop (an HTTP answer, a heartbeat, a timer) runs between two groups instead of after all of them.
   */
  flush(): void {
    this.#scheduled = false;
    if (this.#pending.length > 0) this.#commitInParts(inCommitOrder(this.#pending.splice(0, this.maxGroupSize)));
    if (this.#pending.length > 0 && !this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Commits everything queued, group after group, now: close, so no queued append is dropped. */
  drain(): void {
    while (this.#pending.length > 0) this.flush();
  }

  /**
   * Commits `group`, in parts when #commit refuses one append alone and hands back the others: they are committed in
   * their order, so each one's checks still see the appends before it. Every part is smaller than the group it came
   * from, so this ends; with no failure it is one #commit and one small array.
   */
  #commitInParts(group: readonly Member<T>[]): void {
    const parts = [group];
    for (let part = parts.pop(); part !== undefined; part = parts.pop()) {
      const rest = this.#commit(part);
      // Last part pushed first: the first part is committed next.
      if (rest !== undefined) for (let i = rest.length - 1; i >= 0; i--) parts.push(rest[i]!);
    }
  }

  /** Commits `group` as one transaction and answers its members; returns the parts still to commit, if it split it. */
  #commit(group: readonly Member<T>[]): readonly (readonly Member<T>[])[] | undefined {
    const started = performance.now();
    try {
      this.#sql.begin.run();
    } catch (error) {
      // SQLITE_BUSY past busy_timeout (another process holds the write lock): typed and retryable, nothing written.
      // Otherwise the connection is gone.
      const failure = isWriteLockHeld(error) ? writeLockHeldBy(error) : new GroupCommitError(error);
      for (const member of group) member.reject(failure);
      return undefined;
    }
    const settled: Settled<T>[] = [];
    for (const member of group) {
      try {
        if (member.savepoint) this.#sql.savepoint.run();
      } catch (error) {
        // The savepoint itself failed (an I/O error): nothing of the group can be trusted, none is stored.
        this.#abandon(group, settled, error);
        return undefined;
      }
      try {
        const value = member.work();
        if (member.savepoint) this.#sql.release.run();
        settled.push({ ok: true, value });
      } catch (error) {
        if (!this.db.inTransaction || (!member.savepoint && hasNoRoom(error))) {
          // SQLite rolled the whole transaction back itself (SQLITE_FULL, an I/O error), savepoints and all; or an
          // append without a savepoint found no room, maybe past its first write. The failure is this append's
          // own: it alone is refused, and the rest of the group is committed without it.
          return this.#without(group, settled.length, error);
        }
        if (!member.savepoint && !refusedByItsFirstWrite(error)) {
          // Work without a savepoint may fail only before or at its first write, which SQLite undoes alone. Anything
          // else (an I/O error at its second write, SQLite leaving the transaction open) may leave part of it
          // written: the whole group goes, so none of it is half stored.
          this.#abandon(group, settled, error);
          return undefined;
        }
        if (member.savepoint) {
          try {
            this.#sql.rollbackTo.run();
            this.#sql.release.run();
          } catch (undoError) {
            // This append's writes could not be undone alone: the whole group goes, so none of it is half stored.
            this.#abandon(group, settled, undoError);
            return undefined;
          }
        }
        // Its own refusal; one for want of room (undone by its savepoint) is the store's typed one.
        settled.push({ ok: false, error: hasNoRoom(error) ? noRoomFor(error) : error });
      }
    }
    const committing = performance.now();
    try {
      this.#sql.commit.run();
    } catch (error) {
      this.#rollback();
      // No room for the group's frames: nothing of it was written. Halves are committed in turn, down to single
      // appends, so only the ones the store cannot hold are refused.
      if (hasNoRoom(error) && group.length > 1) return [group.slice(0, group.length >> 1), group.slice(group.length >> 1)];
      const failure = hasNoRoom(error) ? noRoomFor(error) : isWriteLockHeld(error) ? writeLockHeldBy(error) : new GroupCommitError(error);
      this.#failAll(group, settled, failure);
      return undefined;
    }
    const stored = settled.flatMap((s) => (s.ok ? [s.value] : []));
    this.stats.groups += 1;
    this.stats.appends += group.length;
    this.stats.largestGroup = Math.max(this.stats.largestGroup, group.length);
    const done = performance.now();
    this.stats.commitMs += done - started;
    this.stats.syncMs += done - committing;
    // Committed: every member is answered whatever a listener does (it only wakes subscribers and counts appends for
    // the checkpointer; subscribers also poll, and a count lost delays a background checkpoint, nothing more).
    try {
      this.onCommitted(stored);
    } catch {
      // nothing to undo: the group is on disk
    }
    group.forEach((member, i) => {
      const outcome = settled[i]!;
      if (outcome.ok) member.resolve(outcome.value);
      else member.reject(outcome.error);
    });
    return undefined;
  }

  /**
   * Refuses member `culprit` alone, with its own error, after its write failed the whole transaction; returns the
   * appends before it and the ones after it, to commit in that order. Those before it run again in a new
   * transaction rather than keep their outcomes: what they are answered is decided against what is then committed
   * (the same outcomes, refusals included, unless another process wrote meanwhile). A member runs again only in the
   * part before its culprit, which then commits: each runs at most twice, however many culprits the group holds
   * (more only when a COMMIT finds no room and the group is halved).
   */
  #without(group: readonly Member<T>[], culprit: number, error: unknown): readonly (readonly Member<T>[])[] {
    this.#rollback();
    group[culprit]!.reject(hasNoRoom(error) ? noRoomFor(error) : new GroupCommitError(error));
    return [group.slice(0, culprit), group.slice(culprit + 1)].filter((part) => part.length > 0);
  }

  /** Rolls the open transaction back and fails the group: for a statement of the group's own machinery that failed. */
  #abandon(group: readonly Member<T>[], settled: readonly Settled<T>[], error: unknown): void {
    this.#rollback();
    this.#failAll(group, settled, new GroupCommitError(error));
  }

  #rollback(): void {
    try {
      if (this.db.inTransaction) this.#sql.rollback.run();
    } catch {
      // the connection is gone: nothing was committed either way, and the next BEGIN says so
    }
  }

  /** The group is lost: appends refused on their own keep their refusal; the others get `failure`. */
  #failAll(group: readonly Member<T>[], settled: readonly Settled<T>[], failure: unknown): void {
    group.forEach((member, i) => {
      const outcome = settled[i];
      member.reject(outcome !== undefined && !outcome.ok ? outcome.error : failure);
    });
  }
}
