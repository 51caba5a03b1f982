import type { StoreSubscription } from '../../domain/ports/event-store.ts';
import { damagedDatabaseOf } from '../driven/files/damaged-database.ts';
import { countStartBacklogs, progressOf, type StartBacklog } from './live-backlog.ts';
import { followersOf, type Follower } from './live-followers.ts';
import { LagTracker, lagOf, type Lag } from './live-lag.ts';
import { RecentEvents } from './live-recent.ts';
import type { ComponentStatus, LiveOptions, LiveRuntime } from './live-runtime.ts';
import { CaughtUpWaiters, isCaughtUp } from './live-waiters.ts';
import type { Credence } from './credence.ts';

/**
 * What status and GET /v1/projections say of a failure: a damaged database by its file's name only (the service's log
 * has its path and what mends it), not SQLite's bare "database disk image is malformed" (review 52).
 */
const messageOf = (error: unknown): string => {
  const damaged = damagedDatabaseOf(error);
  if (damaged?.problem.code === 'damaged_database') return `the database ${damaged.problem.file} is damaged: its operator must mend it (the service's log says how)`;
  return error instanceof Error ? error.message : String(error);
};
const later = (a: bigint | undefined, b: bigint | undefined): bigint | undefined => (a === undefined ? b : b === undefined || a >= b ? a : b);
/** Retries a failing component after 0.25 s, doubling up to 30 s: a store outage is not hammered. */
const backoffMs = (failures: number): number => Math.min(30_000, 250 * 2 ** Math.min(failures - 1, 7));

/**
 * The live runtime (issue 12). One subscription to the store delivers what was appended; each component then
 * handles it, one pass at a time, with appends made during a pass folded into one more pass. A pass is fed the
 * records the subscription delivered (`runner.handle`, `transparency.ingest`): one read of the store for all the
 * components, not one per component and per wake-up, which was most of the service's work. It catches up from
 * the component's own checkpoint instead (`runner.catchUp(name)`, `transparency.catchUp()`) at first, after a
 * failure, and whenever the records it needs are not held (see RecentEvents). The runner's own `start()` is not
 * used: it stops a projection for good on its first error and knows no position a filtered projection has looked
 * past, whereas a cascade command refused by a conflict past the engine's retries must be tried again ("the next
 * run retries", projections/cascade) and `caughtUp` needs exactly that position. A timer kicks every component
 * each tick too, so a missed wake-up or a failed pass costs at most a tick (or its back-off).
 */
export const startLive = (credence: Credence, options: LiveOptions = {}): LiveRuntime => {
  const { store, scheduler, pseudonyms, shredder, transparency } = credence;
  const tickMs = options.tickMs ?? 1000;
  const checkpointEveryMs = options.checkpointEveryMs ?? 10_000;
  const coalesceMs = options.coalesceMs ?? 5;
  if (!Number.isSafeInteger(tickMs) || tickMs < 1) throw new RangeError('options.tickMs: must be a whole number of ms >= 1');
  if (!Number.isSafeInteger(checkpointEveryMs) || checkpointEveryMs < 1) throw new RangeError('options.checkpointEveryMs: must be a whole number of ms >= 1');
  if (!Number.isSafeInteger(coalesceMs) || coalesceMs < 0) throw new RangeError('options.coalesceMs: must be a whole number of ms >= 0');

  const report = (component: string, error: unknown): void => {
    try {
      options.onError?.(component, error);
    } catch {
      // The error sink must never take the runtime down with it.
    }
  };
  const followers = followersOf(credence);
  const byName = new Map(followers.map((f) => [f.name, f]));
  const tracker = new LagTracker();
  /** What each component had to handle at start, until its pass has handled the head read then. */
  const backlogs = new Map<Follower, StartBacklog>();
  /** What the subscription delivered and some follower has yet to handle (made at start, after its first position). */
  let recent: RecentEvents | undefined;
  const waiters = new CaughtUpWaiters();
  const timers: NodeJS.Timeout[] = [];
  const wakeStop = new AbortController();
  let startHead: bigint | undefined;
  let phase: 'idle' | 'started' | 'stopped' = 'idle';
  let starting: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  let subscription: StoreSubscription | undefined;
  let subscriptionError: string | undefined;
  /** The subscription is left unread for `coalesceMs` (followStore): events it has not delivered yet are expected. */
  let coalescing = false;
  let wakeLoop: Promise<void> = Promise.resolve();
  let ticking: Promise<void> | undefined;
  let signing: Promise<void> | undefined;
  let signedThrough: bigint | undefined;

  const handledByAll = (): bigint | undefined => {
    let least: bigint | undefined;
    for (const f of followers) {
      if (f.handledThrough === undefined) return undefined;
      if (least === undefined || f.handledThrough < least) least = f.handledThrough;
    }
    return least;
  };
  /** The followers named, or all. A name that is no component is a mistake: it must not read as "caught up". */
  const among = (components: readonly string[] | undefined): readonly Follower[] => {
    if (components === undefined) return followers;
    const unknown = components.filter((name) => !byName.has(name));
    if (unknown.length > 0) throw new RangeError(`components: ${unknown.join(', ')} is no live component (${followers.map((f) => f.name).join(', ')})`);
    return followers.filter((f) => components.includes(f.name));
  };

  /**
   * Fed the events the subscription delivered since the follower's last pass when it can be (one read of the
   * store for every component, and each event decoded once); otherwise (first pass, after a failure, a rebuild,
   * records no longer held) a catch-up from the component's own checkpoint up to the head.
   */
  const runPasses = async (f: Follower): Promise<void> => {
    do {
      // No sooner than `coalesceMs` after the previous pass began: under load the appends made meanwhile (the
      // requests being served) join this pass, one transaction for a batch rather than one per event. After a
      // quiet spell the pass runs at once, as the event that woke it is appended.
      const wait = f.lastPass + coalesceMs - performance.now();
      if (wait > 0) {
        await new Promise((resolve) => setTimeout(resolve, wait));
        if (phase !== 'started') return;
      }
      f.lastPass = performance.now();
      f.again = false;
      try {
        const pending = f.fed ? recent?.after(f.handledThrough) : undefined;
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
        f.failures = 0;
        if (startHead === undefined || (f.handledThrough !== undefined && f.handledThrough >= startHead)) backlogs.delete(f);
      } catch (error) {
        // The retry reads the store: whatever failed (the store included) is not assumed gone.
        f.fed = false;
        f.failures++;
        f.error = messageOf(error);
        f.retryAt = Date.now() + backoffMs(f.failures);
        report(f.name, error);
        return;
      }
      const all = handledByAll();
      tracker.trim(all);
      recent?.trim(all);
      waiters.settle();
    } while (f.again && phase === 'started');
  };
  const kick = (f: Follower): void => {
    if (phase !== 'started') return;
    if (f.running !== undefined) {
      f.again = true;
      return;
    }
    if (f.error !== undefined && Date.now() < f.retryAt) return;
    f.running = runPasses(f).finally(() => {
      f.running = undefined;
    });
  };
  const kickAll = (): void => followers.forEach(kick);

  /** Every appended event, in order: kept for the followers to be fed (RecentEvents) and counted for their lag. */
  const followStore = async (): Promise<void> => {
    let failures = 0;
    while (phase === 'started') {
      try {
        const after = tracker.head ?? startHead;
        subscription = store.subscribeToAll({ from: after === undefined ? { kind: 'start' } : { kind: 'after', position: after } });
        const events = subscription[Symbol.asyncIterator]();
        for (;;) {
          const asked = performance.now();
          const next = await events.next();
          if (next.done === true) break;
          const event = next.value;
          tracker.seen(event.position, Date.now());
          recent?.push(event);
          subscriptionError = undefined;
          failures = 0;
          kickAll();
          // An event the subscription had to wait for (not one read with others): everything appended over the
          // next `coalesceMs` is then read in one page, instead of one read of the store per append (the store
          // wakes a waiting subscription on every append). Followers were kicked already, so latency is unchanged.
          if (coalesceMs > 0 && performance.now() - asked >= WAITED_MS) {
            coalescing = true;
            await pause(coalesceMs, wakeStop.signal);
            coalescing = false;
          }
        }
      } catch (error) {
        if (phase !== 'started') return;
        failures++;
        subscriptionError = messageOf(error);
        report('subscription', error);
      }
      if (phase === 'started') await pause(backoffMs(Math.max(failures, 1)), wakeStop.signal);
    }
  };

  /** `stillWrong`: what the status keeps saying after a round that went through (a debt it did not settle yet). */
  const timed = async (name: string, work: () => Promise<unknown>, stillWrong: () => string | undefined = () => undefined): Promise<void> => {
    const f = byName.get(name);
    try {
      await work();
      if (f !== undefined) f.timedError = stillWrong();
    } catch (error) {
      if (f !== undefined) f.timedError = messageOf(error);
      report(name, error);
    }
  };
  /**
   * The wall-clock schedule (credence.tick without a FakeClock and without settling: the followers do that). Also
   * the safety net of the wake-ups: when the store holds events the subscription has not delivered (it is failing,
   * or another process appended), every follower's next pass reads the store.
   */
  const tick = (): void => {
    if (phase !== 'started' || ticking !== undefined) return;
    ticking = (async () => {
      // A store that cannot say its head cannot be read either: the followers' passes report that.
      const head = await store.headPosition().catch(() => undefined);
      if (!coalescing && head !== undefined && recent !== undefined && head > recent.newest) for (const f of followers) f.fed = false;
      kickAll();
      await timed('expiry', () => scheduler.tick());
      if (pseudonyms !== undefined) await timed('pseudonyms', () => pseudonyms.tick());
      // A refused retry is reported (logged) once per attempt; between attempts the status still names the owed keys.
      if (shredder !== undefined) await timed(shredder.name, () => shredder.retryOwed(), () => shredder.owedSummary());
    })().finally(() => {
      ticking = undefined;
    });
  };
  const signCheckpoint = (): void => {
    if (phase !== 'started' || transparency === undefined || signing !== undefined) return;
    const position = transparency.position;
    if (position === undefined || position === signedThrough) return;
    signing = timed('transparency', async () => {
      await transparency.checkpoint();
      signedThrough = position;
    }).finally(() => {
      signing = undefined;
    });
  };
  const every = (ms: number, work: () => void): void => {
    const timer = setInterval(work, ms);
    // A service is kept alive by its server; the runtime alone must not keep a process (or a test) running.
    timer.unref();
    timers.push(timer);
  };

  const lagOfFollower = (f: Follower, now: number): Lag => {
    const live = tracker.after(f.handledThrough);
    const backlog = backlogs.get(f)?.after(progressOf(credence, f)) ?? { count: 0, oldest: undefined };
    return lagOf(live.count + backlog.count, backlog.oldest ?? live.oldest, now);
  };

  return {
    start() {
      starting ??= (async () => {
        if (phase !== 'idle') throw new Error('live runtime: already stopped; start a new one');
        startHead = await store.headPosition();
        recent = new RecentEvents(startHead ?? 0n);
        phase = 'started';
        wakeLoop = followStore();
        if (startHead !== undefined) await countStartBacklogs(credence, followers, startHead, backlogs, report);
        kickAll();
        await Promise.all(followers.map((f) => f.running));
        if (phase !== 'started') return;
        every(tickMs, tick);
        if (transparency !== undefined) every(checkpointEveryMs, signCheckpoint);
        tick();
        // A first checkpoint right away, so a fresh service has one to show and prove against.
        signCheckpoint();
      })();
      return starting;
    },

    stop() {
      stopping ??= (async () => {
        const wasStarted = phase === 'started';
        phase = 'stopped';
        for (const timer of timers) clearInterval(timer);
        wakeStop.abort();
        await subscription?.unsubscribe();
        await wakeLoop;
        await starting?.catch(() => undefined);
        await Promise.all([...followers.map((f) => f.running), ticking, signing]);
        waiters.endAll();
        if (!wasStarted || transparency === undefined) return;
        // Shutdown leaves a signed checkpoint over everything logged, so nothing acknowledged is left unsigned.
        try {
          await transparency.catchUp();
          if (transparency.position !== undefined) await transparency.checkpoint();
        } catch (error) {
          report('transparency', error);
        }
      })();
      return stopping;
    },

    async status() {
      const head = later(tracker.head, await store.headPosition());
      const now = Date.now();
      const components: ComponentStatus[] = followers.map((f) => {
        const error = f.error ?? f.timedError;
        return {
          name: f.name,
          checkpoint: f.handledThrough?.toString(10),
          head: head?.toString(10),
          ...lagOfFollower(f, now),
          ...(error !== undefined ? { error } : {}),
        };
      });
      if (subscriptionError !== undefined) {
        // No live wake-ups: the tick still moves everything, a tick late.
        components.push({ name: 'subscription', checkpoint: tracker.head?.toString(10), head: head?.toString(10), eventsBehind: 0, secondsBehind: 0, error: subscriptionError });
      }
      return components;
    },

    lag(components) {
      const now = Date.now();
      let eventsBehind = 0;
      let secondsBehind = 0;
      for (const f of among(components)) {
        const l = lagOfFollower(f, now);
        eventsBehind = Math.max(eventsBehind, l.eventsBehind);
        secondsBehind = Math.max(secondsBehind, l.secondsBehind);
      }
      return { eventsBehind, secondsBehind };
    },

    caughtUp(position, timeoutMs = 10_000, components) {
      const of = among(components);
      if (isCaughtUp(position, of)) return Promise.resolve(true);
      if (phase === 'stopped') return Promise.resolve(false);
      const caught = waiters.wait(position, of, timeoutMs);
      // Without waiting for the subscription: the position may have been appended a moment ago.
      kickAll();
      return caught;
    },
  };
};

/** A wait for the subscription's next event this long means it had read everything and waited for an append. */
const WAITED_MS = 0.5;

/** Waits `ms`, or less when `signal` aborts. */
const pause = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    timer.unref();
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
