import type { Follower } from './live-followers.ts';

/** Whether every follower of `of` has handled `position`. */
export const isCaughtUp = (position: bigint, of: readonly Follower[]): boolean =>
  of.every((f) => f.handledThrough !== undefined && f.handledThrough >= position);

/** The callers of `LiveRuntime.caughtUp` waiting for the followers they named to handle a position (live.ts). */
export class CaughtUpWaiters {
  readonly #waiters = new Set<{ position: bigint; of: readonly Follower[]; resolve: (ok: boolean) => void; timer: NodeJS.Timeout }>();

  /** Resolves true once `settle` finds `of` caught up to `position`, or false after `timeoutMs` (or at `endAll`). */
  wait(position: bigint, of: readonly Follower[], timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const waiter = {
        position,
        of,
        resolve,
        timer: setTimeout(() => {
          this.#waiters.delete(waiter);
          resolve(false);
        }, timeoutMs),
      };
      this.#waiters.add(waiter);
    });
  }

  /** Resolves the waiters whose followers have handled their position. */
  settle(): void {
    for (const w of this.#waiters) {
      if (!isCaughtUp(w.position, w.of)) continue;
      clearTimeout(w.timer);
      this.#waiters.delete(w);
      w.resolve(true);
    }
  }

  /** The runtime stopped: every waiter resolves false. */
  endAll(): void {
    for (const w of this.#waiters) {
      clearTimeout(w.timer);
      w.resolve(false);
    }
    this.#waiters.clear();
  }
}
