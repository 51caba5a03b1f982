import type { EventStore } from '../../domain/ports/event-store.ts';
import type { StartBacklog } from './live-backlog.ts';
import { messageOf, namingLockedFile } from './live-failure.ts';
import type { Follower } from './live-followers.ts';
import { later } from './live-handled.ts';
import type { RecentEvents } from './live-recent.ts';
import { backoffMs } from './live-timing.ts';

/** What a follower's passes share with the rest of the live runtime (live.ts). */
export interface PassContext {
  readonly store: Pick<EventStore, 'headPosition'>;
  readonly coalesceMs: number;
  /** Whether the runtime still runs: a pass waiting to coalesce does not start once it stops. */
  readonly started: () => boolean;
  /** What the subscription delivered and some follower has yet to handle (made at start). */
  readonly recent: () => RecentEvents | undefined;
  readonly startHead: () => bigint | undefined;
  /** What each component had to handle at start, until its pass has handled the head read then. */
  readonly backlogs: Map<Follower, StartBacklog>;
  readonly report: (component: string, error: unknown) => void;
  /** After each pass that went through: what every follower has handled is let go, and waiters are settled. */
  readonly passed: () => void;
}

/**
 * Fed the events the subscription delivered since the follower's last pass when it can be (one read of the
 * store for every component, and each event decoded once); otherwise (first pass, after a failure, a rebuild,
 * records no longer held) a catch-up from the component's own checkpoint up to the head.
 */
export const runPasses = async (f: Follower, { store, coalesceMs, started, recent, startHead, backlogs, report, passed }: PassContext): Promise<void> => {
  do {
    // No sooner than `coalesceMs` after the previous pass began: under load the appends made meanwhile (the
    // requests being served) join this pass, one transaction for a batch rather than one per event. After a
    // quiet spell the pass runs at once, as the event that woke it is appended.
    const wait = f.lastPass + coalesceMs - performance.now();
    if (wait > 0) {
      await new Promise((resolve) => setTimeout(resolve, wait));
      if (!started()) return;
    }
    f.lastPass = performance.now();
    f.again = false;
    try {
      const pending = f.fed ? recent()?.after(f.handledThrough) : undefined;
      if (pending !== undefined && (pending.records.length === 0 || (await f.feed(pending.records)))) {
        f.handledThrough = later(f.handledThrough, pending.through);
      } else {
        const head = await store.headPosition();
        // A position past the head is of another log (an event store restored from an older backup): nothing of
        // this log is handled by it. Forgotten before the pass, so that a component that stops there (the
        // transparency log) is not counted as caught up to positions it never handled.
        if (f.handledThrough !== undefined && (head === undefined || f.handledThrough > head)) f.handledThrough = undefined;
        await f.pass();
        // Through the head read before it, not the position held before: a read model of another log is reset by
        // its first catch-up, and its old checkpoint would otherwise skip every event written since at the
        // positions it had passed.
        f.handledThrough = head;
        f.fed = true;
      }
      f.error = undefined;
      f.errorSince = undefined;
      f.failures = 0;
      const headAtStart = startHead();
      if (headAtStart === undefined || (f.handledThrough !== undefined && f.handledThrough >= headAtStart)) backlogs.delete(f);
    } catch (thrown) {
      const error = namingLockedFile(thrown, f.file);
      // The retry reads the store: whatever failed (the store included) is not assumed gone.
      f.fed = false;
      f.failures++;
      f.error = messageOf(error);
      // On the monotonic clock: a wall clock stepped back an hour held the retry (and the cascade) back that hour,
      // and made the run of failures look negative to /readyz (review 163).
      f.errorSince ??= performance.now();
      f.retryAt = performance.now() + backoffMs(f.failures);
      report(f.name, error);
      return;
    }
    passed();
  } while (f.again && started());
};
