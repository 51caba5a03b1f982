import type { StoreSubscription } from '../../domain/ports/event-store.ts';
import { LagTracker, lagOf, LAG_COUNT_LIMIT, type Lag } from './live-lag.ts';
import type { Credence } from './open-credence.ts';

/** One component that follows the store (a projection, the cascade, the transparency log, ...). */
export interface ComponentStatus {
  readonly name: string;
  /** Last global position handled, undefined before the first. */
  readonly checkpoint: string | undefined;
  readonly head: string | undefined;
  readonly eventsBehind: number;
  readonly secondsBehind: number;
  /** Set when the component stopped on an error it could not get past. */
  readonly error?: string;
}

export interface LiveOptions {
  /** How often the expiry scheduler and pseudonym rotation run on the wall clock (default 1000 ms). */
  readonly tickMs?: number;
  /** How often a transparency checkpoint is signed over new leaves (default 10 000 ms, as TransparencyProjection). */
  readonly checkpointEveryMs?: number;
  readonly onError?: (component: string, error: unknown) => void;
}

/**
 * Everything a running service keeps moving without a caller: the projections and the cascade process manager
 * following the store, the expiry scheduler and pseudonym rotation on the wall clock, the transparency log and
 * its checkpoints.
 */
export interface LiveRuntime {
  /** Catches up, then follows live; resolves once following. */
  start(): Promise<void>;
  /** Stops following and timers, waits for handlers in flight, flushes checkpoints (a signed transparency checkpoint). */
  stop(): Promise<void>;
  status(): Promise<readonly ComponentStatus[]>;
  /** The largest lag over all components, cheap (kept current while following). */
  lag(): { readonly eventsBehind: number; readonly secondsBehind: number };
  /** Resolves true once every component has handled `position` (or false after `timeoutMs`). */
  caughtUp(position: bigint, timeoutMs?: number): Promise<boolean>;
}

/** One follower: a pass handles everything stored up to the head read when it began. */
interface Follower {
  readonly name: string;
  readonly pass: () => Promise<unknown>;
  handledThrough: bigint | undefined;
  running: Promise<void> | undefined;
  again: boolean;
  failures: number;
  retryAt: number;
  error: string | undefined;
  /** The wall-clock work of the same component (the expiry tick, a rotation tick, a checkpoint signature). */
  timedError: string | undefined;
  /** Events stored before start that a failed first pass left unhandled (counted once, bounded). */
  backlog: { count: number; oldest: number | undefined } | undefined;
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));
const later = (a: bigint | undefined, b: bigint | undefined): bigint | undefined => (a === undefined ? b : b === undefined || a >= b ? a : b);
/** Retries a failing component after 0.25 s, doubling up to 30 s: a store outage is not hammered. */
const backoffMs = (failures: number): number => Math.min(30_000, 250 * 2 ** Math.min(failures - 1, 7));

/**
 * The live runtime (issue 12). One subscription to the store says "something was appended"; each component then
 * catches up from its own checkpoint (`runner.catchUp(name)`, `transparency.catchUp()`), one pass at a time, with
 * appends made during a pass folded into one more pass. The runner's own `start()` is not used: it stops a
 * projection for good on its first error and knows no position a filtered projection has looked past, whereas a
 * cascade command refused by a conflict past the engine's retries must be tried again ("the next run retries",
 * projections/cascade) and `caughtUp` needs exactly that position. A timer kicks every component each tick too,
 * so a missed wake-up or a failed pass costs at most a tick (or its back-off).
 */
export const startLive = (credence: Credence, options: LiveOptions = {}): LiveRuntime => {
  const { store, runner, scheduler, pseudonyms, transparency } = credence;
  const tickMs = options.tickMs ?? 1000;
  const checkpointEveryMs = options.checkpointEveryMs ?? 10_000;
  if (!Number.isSafeInteger(tickMs) || tickMs < 1) throw new RangeError('options.tickMs: must be a whole number of ms >= 1');
  if (!Number.isSafeInteger(checkpointEveryMs) || checkpointEveryMs < 1) throw new RangeError('options.checkpointEveryMs: must be a whole number of ms >= 1');

  const report = (component: string, error: unknown): void => {
    try {
      options.onError?.(component, error);
    } catch {
      // The error sink must never take the runtime down with it.
    }
  };
  const follower = (name: string, pass: () => Promise<unknown>, handledThrough: bigint | undefined): Follower => ({
    name, pass, handledThrough, running: undefined, again: false, failures: 0, retryAt: 0, error: undefined, timedError: undefined, backlog: undefined,
  });
  const followers: Follower[] = [
    ...runner.names.map((name) => follower(name, () => runner.catchUp(name), runner.checkpoint(name))),
    ...(transparency !== undefined ? [follower('transparency', () => transparency.catchUp(), transparency.position)] : []),
  ];
  const byName = new Map(followers.map((f) => [f.name, f]));
  const tracker = new LagTracker();
  const waiters = new Set<{ position: bigint; resolve: (ok: boolean) => void; timer: NodeJS.Timeout }>();
  const timers: NodeJS.Timeout[] = [];
  const wakeStop = new AbortController();
  let startHead: bigint | undefined;
  let phase: 'idle' | 'started' | 'stopped' = 'idle';
  let starting: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  let subscription: StoreSubscription | undefined;
  let subscriptionError: string | undefined;
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
  const isCaughtUp = (position: bigint): boolean => followers.every((f) => f.handledThrough !== undefined && f.handledThrough >= position);
  const settleWaiters = (): void => {
    for (const w of waiters) {
      if (!isCaughtUp(w.position)) continue;
      clearTimeout(w.timer);
      waiters.delete(w);
      w.resolve(true);
    }
  };

  const runPasses = async (f: Follower): Promise<void> => {
    do {
      f.again = false;
      try {
        const head = await store.headPosition();
        await f.pass();
        f.handledThrough = later(f.handledThrough, head);
        f.error = undefined;
        f.failures = 0;
        if (f.backlog !== undefined && (startHead === undefined || (f.handledThrough !== undefined && f.handledThrough >= startHead))) f.backlog = undefined;
      } catch (error) {
        f.failures++;
        f.error = messageOf(error);
        f.retryAt = Date.now() + backoffMs(f.failures);
        report(f.name, error);
        return;
      }
      tracker.trim(handledByAll());
      settleWaiters();
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

  /** Wake-ups only: which events arrived is the components' business, read from their own checkpoints. */
  const followStore = async (): Promise<void> => {
    let failures = 0;
    while (phase === 'started') {
      try {
        const after = tracker.head ?? startHead;
        subscription = store.subscribeToAll({ from: after === undefined ? { kind: 'start' } : { kind: 'after', position: after } });
        for await (const event of subscription) {
          tracker.seen(event.position, Date.now());
          subscriptionError = undefined;
          failures = 0;
          kickAll();
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

  /** Remembers what a component could not handle at start, so its lag counts it (bounded, one read). */
  const countBacklog = async (f: Follower): Promise<void> => {
    if (f.error === undefined || startHead === undefined || (f.handledThrough !== undefined && f.handledThrough >= startHead)) return;
    let count = 0;
    let oldest: number | undefined;
    try {
      for await (const record of store.readAll({ ...(f.handledThrough !== undefined ? { afterPosition: f.handledThrough } : {}), maxCount: LAG_COUNT_LIMIT })) {
        if (record.position > startHead) break;
        oldest ??= Date.parse(String(record.metadata['occurredAt']));
        count++;
      }
    } catch (error) {
      report(f.name, error);
    }
    f.backlog = { count, oldest: Number.isNaN(oldest) ? undefined : oldest };
  };

  const timed = async (name: string, work: () => Promise<unknown>): Promise<void> => {
    const f = byName.get(name);
    try {
      await work();
      if (f !== undefined) f.timedError = undefined;
    } catch (error) {
      if (f !== undefined) f.timedError = messageOf(error);
      report(name, error);
    }
  };
  /** The wall-clock schedule (credence.tick without a FakeClock and without settling: the followers do that). */
  const tick = (): void => {
    if (phase !== 'started' || ticking !== undefined) return;
    kickAll();
    ticking = (async () => {
      await timed('expiry', () => scheduler.tick());
      if (pseudonyms !== undefined) await timed('pseudonyms', () => pseudonyms.tick());
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
    const backlog = f.backlog ?? { count: 0, oldest: undefined };
    return lagOf(live.count + backlog.count, backlog.oldest ?? live.oldest, now);
  };

  return {
    start() {
      starting ??= (async () => {
        if (phase !== 'idle') throw new Error('live runtime: already stopped; start a new one');
        startHead = await store.headPosition();
        phase = 'started';
        wakeLoop = followStore();
        kickAll();
        await Promise.all(followers.map((f) => f.running));
        await Promise.all(followers.map(countBacklog));
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
        for (const w of waiters) {
          clearTimeout(w.timer);
          w.resolve(false);
        }
        waiters.clear();
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

    lag() {
      const now = Date.now();
      let eventsBehind = 0;
      let secondsBehind = 0;
      for (const f of followers) {
        const l = lagOfFollower(f, now);
        eventsBehind = Math.max(eventsBehind, l.eventsBehind);
        secondsBehind = Math.max(secondsBehind, l.secondsBehind);
      }
      return { eventsBehind, secondsBehind };
    },

    caughtUp(position, timeoutMs = 10_000) {
      if (isCaughtUp(position)) return Promise.resolve(true);
      if (phase === 'stopped') return Promise.resolve(false);
      return new Promise((resolve) => {
        const waiter = {
          position,
          resolve,
          timer: setTimeout(() => {
            waiters.delete(waiter);
            resolve(false);
          }, timeoutMs),
        };
        waiters.add(waiter);
        // Without waiting for the subscription: the position may have been appended a moment ago.
        kickAll();
      });
    },
  };
};

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
