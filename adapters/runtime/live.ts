import type { StoreSubscription } from '../../domain/ports/event-store.ts';
import { isOwnStream } from '../../domain/own-record.ts';
import { checkReadModels, countStartBacklogs, progressOf, type StartBacklog } from './live-backlog.ts';
import { messageOf, namingLockedFile, reporterOf } from './live-failure.ts';
import { followersOf, type Follower } from './live-followers.ts';
import { resumePointAtStart } from './live-resume-point.ts';
import { among, handledByAll, later } from './live-handled.ts';
import { LagTracker, lagOf, type Lag } from './live-lag.ts';
import { runPasses, type PassContext } from './live-passes.ts';
import { RecentEvents } from './live-recent.ts';
import type { ComponentStatus, LiveOptions, LiveRuntime } from './live-runtime.ts';
import { backoffMs, liveTimings, LOCK_WAIT_MS, pause, WAITED_MS } from './live-timing.ts';
import { CaughtUpWaiters, isCaughtUp } from './live-waiters.ts';
import { shareWallClockGuard, WallClockAhead, WallClockGuard } from './wall-clock-guard.ts';
import type { Credence } from './credence.ts';
import { EventsDbReplaced } from './events-db-replaced.ts';

/** The component an events.db found replaced is said under (events-db-replaced.ts). */
const EVENTS_DB = 'events.db';

/** How long an expiry tick waits at most, each time, for the cascade to react to the endings it recorded (review 293). */
const CASCADE_WAIT_MS = 5_000;
/** Cascade passes an expiry tick waits for at most per instant (a subscription's end reaches associations in a few). */
const CASCADE_ROUNDS = 8;

/**
 * Work of a live component done outside the runtime, by what the service starts after it (the PKI publisher signs the
 * CRLs of the `pki` read model): why it fails now is said as that component's failure, in `status` (its `error`) and
 * `failing` (credence_component_failing, /readyz's bound), as the wall-clock work of a component is (`timed`). Looked
 * at each tick and at each status read. Not reported: that work logs its own failures (once per run).
 */
export interface WorkOutside {
  /** The live component (a follower's name) it is said under; another name is not said. */
  readonly component: string;
  /** Why it fails now, for the status; undefined while it goes through. Cheap: it is looked at every tick. */
  readonly failing: () => Promise<string | undefined>;
}

/**
 * Said (reported, so logged as a live component failure) once for an expiry tick whose wait for the cascade ran out
 * (review 349): the tick went on without it, and an entity the cascade revokes with the service up may have been
 * recorded expired instead. Not a failing component: the tick went through, and the next one waits again.
 */
export class CascadeNotWaitedFor extends Error {
  constructor(readonly waitedMs: number) {
    super(
      `expiry went on without waiting for the cascade (it did not catch up within ${waitedMs / 1000} s): ` +
        'entities due later in this tick may end expired where the cascade would have revoked them',
    );
    this.name = 'CascadeNotWaitedFor';
  }
}

/** The earlier of two instants, either unknown. */
const earlier = (a: number | undefined, b: number | undefined): number | undefined => (a === undefined ? b : b === undefined ? a : Math.min(a, b));

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
export const startLive = (credence: Credence, options: LiveOptions & { readonly outside?: readonly WorkOutside[] } = {}): LiveRuntime => {
  const { store, scheduler, pseudonyms, shredder, transparency } = credence;
  const { tickMs, checkpointEveryMs, coalesceMs } = liveTimings(options);
  const reportEach = reporterOf(options);
  /**
   * What a component's work was refused over, an events.db found replaced, is said once, when found (start): a job of
   * the tick that found it, or followers that find the store rewound below what they handled and derive it again, are
   * refused at every retry. Their status still says it.
   */
  const report = (component: string, error: unknown): void => {
    if (!(error instanceof EventsDbReplaced) || component === EVENTS_DB) reportEach(component, error);
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
  /**
   * Where the subscription resumes after: the newest record Credence wrote that it delivered, or the newest at start.
   * On a store that is not gapless the head may be another application's record, gone once scavenged, after which the
   * server refuses to start (review 179); what was delivered since is passed over. The embedded store resumes after
   * what it delivered last, as every record there stays.
   */
  let resumeAfter: bigint | undefined;
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
  /** Stops this runtime logging an events.db found replaced (events-db-replaced.ts), said once by whoever finds it. */
  let stopSayingEventsDb: (() => void) | undefined;
  /** Puts back the read models' and the log's lock waits, shortened while the runtime runs. */
  let restoreLockWaits: (() => void) | undefined;
  /**
   * The expiry ticks trust the engine's clock only as far as the monotonic clock bears it out (review 221): one tick on
   * a wall clock stepped a year ahead expired the whole fleet, and the shredder then destroyed its keys for good.
   */
  const wallClock = new WallClockGuard(() => credence.engine.clock.now().getTime(), options.monotonicNow ?? (() => performance.now()));
  // The CRL publisher drops expired entries only on a clock this guard trusts (pki-revocation.ts, review 251).
  shareWallClockGuard(credence, wallClock);
  /**
   * What an expiry tick waits for between deadlines due at different instants (review 293): the cascade has handled
   * everything stored when asked, and what it stored itself meanwhile (node -> credentials -> associations), so a
   * downtime ends each entity as the service up did. Bounded, so a failing or stuck cascade cannot stall expiry: not
   * waited for while it is failing, at most CASCADE_WAIT_MS a wait, and once a wait ran out, not again in that tick
   * (`waits.gaveUp`), whose remaining deadlines then go on as they come; that is said once for the tick
   * (CascadeNotWaitedFor, review 349).
   */
  const cascadeHandled = async (waits: { gaveUp: boolean }): Promise<void> => {
    const cascade = byName.get('cascade');
    const until = performance.now() + CASCADE_WAIT_MS;
    for (let round = 0; round < CASCADE_ROUNDS && !waits.gaveUp && cascade !== undefined && cascade.error === undefined; round++) {
      const head = await store.headPosition().catch(() => undefined);
      const left = until - performance.now();
      if (head === undefined || isCaughtUp(head, [cascade]) || phase !== 'started') return;
      const caught = left > 0 ? waiters.wait(head, [cascade], left) : Promise.resolve(false);
      kick(cascade);
      if (!(await caught)) waits.gaveUp = true;
    }
  };
  const expiryTick = async (): Promise<unknown> => {
    const held = wallClock.check();
    if (held !== undefined) throw held;
    // A wait owed by the tick before (its page full, or it stopped early) is the scheduler's to keep (review 344):
    // this tick's first deadline due later waits for the cascade too.
    const waits = { gaveUp: false };
    try {
      return await scheduler.tick({ reactionsHandled: () => cascadeHandled(waits) });
    } finally {
      // Once a tick, whatever it came to: a wait that ran out does not fail the tick (timed() keeps the status), but an
      // operator is told the endings after it may not be the cascade's (review 349).
      if (waits.gaveUp) report('expiry', new CascadeNotWaitedFor(CASCADE_WAIT_MS));
    }
  };

  const passes: PassContext = {
    store,
    coalesceMs,
    started: () => phase === 'started',
    recent: () => recent,
    startHead: () => startHead,
    backlogs,
    report,
    passed: () => {
      const all = handledByAll(followers);
      tracker.trim(all);
      recent?.trim(all);
      waiters.settle();
    },
  };
  const kick = (f: Follower): void => {
    if (phase !== 'started') return;
    if (f.running !== undefined) {
      f.again = true;
      return;
    }
    if (f.error !== undefined && performance.now() < f.retryAt) return;
    f.running = runPasses(f, passes).finally(() => {
      f.running = undefined;
    });
  };
  const kickAll = (): void => followers.forEach(kick);

  /** Every appended event, in order: kept for the followers to be fed (RecentEvents) and counted for their lag. */
  const followStore = async (): Promise<void> => {
    let failures = 0;
    while (phase === 'started') {
      try {
        const delivered = tracker.head ?? startHead;
        const after = store.gapless === true ? delivered : resumeAfter;
        subscription = store.subscribeToAll({ from: after === undefined ? { kind: 'start' } : { kind: 'after', position: after } });
        const events = subscription[Symbol.asyncIterator]();
        for (;;) {
          const asked = performance.now();
          const next = await events.next();
          if (next.done === true) break;
          const event = next.value;
          if (store.gapless !== true && isOwnStream(event.streamId)) resumeAfter = event.position;
          // Delivered before the subscription resumed after Credence's own record: passed over.
          if (delivered !== undefined && event.position <= delivered) continue;
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

  /** Each outside work failing at its last look: why, and since when (performance.now(), its first look failing). */
  const outsideFailures = new Map<WorkOutside, { readonly error: string; readonly since: number }>();
  const lookOutside = async (work: WorkOutside): Promise<void> => {
    const error = await work.failing().catch((thrown: unknown) => messageOf(thrown));
    if (error === undefined) outsideFailures.delete(work);
    else outsideFailures.set(work, { error, since: outsideFailures.get(work)?.since ?? performance.now() });
  };
  /** The outside failure said under component `name`: the first work's error, since the earliest of them. */
  const outsideFailureOf = (name: string): { error: string | undefined; since: number | undefined } => {
    let [error, since]: [string | undefined, number | undefined] = [undefined, undefined];
    for (const [work, failure] of outsideFailures) {
      if (work.component !== name) continue;
      error ??= failure.error;
      since = earlier(since, failure.since);
    }
    return { error, since };
  };

  /** `stillWrong`: what the status keeps saying after a round that went through (a debt it did not settle yet). */
  const timed = async (name: string, work: () => Promise<unknown>, stillWrong: () => string | undefined = () => undefined): Promise<void> => {
    const f = byName.get(name);
    try {
      await work();
      if (f !== undefined) {
        f.timedError = stillWrong();
        // A debt the round went through with (keys owed, retried with a back-off of up to an hour) is not a failing
        // component: credence_keys_owed_destruction says it, and it must not keep the service unready (/readyz).
        f.timedErrorSince = undefined;
      }
    } catch (thrown) {
      const error = f === undefined ? thrown : namingLockedFile(thrown, f.file);
      if (f !== undefined) {
        f.timedError = messageOf(error);
        f.timedErrorSince ??= performance.now();
      }
      // A hold is logged when it begins, not at every tick it lasts; the status says it all along.
      if (!(error instanceof WallClockAhead && error.repeated)) report(name, error);
    }
  };
  /**
   * The wall-clock work of a tick, each job in a lane of its own: one still running skips its own next ticks, not the
   * others'. In one sequence, a page of due expiries (up to 1,000 commands, one at a time: some 10 s on EventStoreDB)
   * held the rest back, so protocol runs past their timeout did not end at the first tick and rotations slipped
   * (review 163). A lane never overlaps itself: the expiry page's cursor and each job's command ids (the same for
   * every instance that ticks, so two add nothing twice) stay as one tick at a time leaves them.
   */
  const jobs: readonly (readonly [name: string, run: () => Promise<void>])[] = [
    // Held while the wall clock is ahead of the monotonic clock (wall-clock-guard.ts): a failing component to
    // /v1/projections, the log and /readyz, until the clock is corrected or the service restarted.
    ['expiry', () => timed('expiry', expiryTick)],
    ...(pseudonyms !== undefined ? [['pseudonyms', () => timed('pseudonyms', () => pseudonyms.tick())] as const] : []),
    // A protocol run its peer abandoned ends, with its keys, at the first tick past its timeout (session-table.ts).
    // Not held on a wall clock ahead: what it ends is runs in flight (minutes old), which a device runs again, as after
    // a lost message; the runs' own messages are judged on the same clock, so a hold would not spare them; and held,
    // an abandoned run's keys would stay in the Secure Environment as long as the hold.
    ['protocol-sessions', () => timed('protocol-sessions', () => credence.sweepExpiredRuns())],
    // A refused retry is reported (logged) once per attempt; between attempts the status still names the owed keys.
    ...(shredder !== undefined ? [[shredder.name, () => timed(shredder.name, () => shredder.retryOwed(), () => shredder.owedSummary())] as const] : []),
    // Looked at, not run: a look still going (a Secure Environment slow to say whether a key is back) skips the next.
    ...(options.outside ?? []).map((work, i) => [`outside:${work.component}:${i}`, () => lookOutside(work)] as const),
  ];
  /** Each job's tick still running, by job. */
  const lanes = new Map<string, Promise<void>>();
  /**
   * The wall-clock schedule (credence.tick without a FakeClock and without settling: the followers do that). Also
   * the safety net of the wake-ups: when the store holds events the subscription has not delivered (it is failing,
   * or another process appended), every follower's next pass reads the store.
   */
  const tick = (): void => {
    if (phase !== 'started') return;
    // Commands are refused and /readyz fails from then on (events-db-replaced.ts); the wall-clock jobs write nothing to
    // a file moved aside, and followers go on reading it (they hold what it held). Found at this tick, the jobs' commands
    // wait for the check and are refused by it.
    if (eventsDbReplaced()) {
      kickAll();
      return;
    }
    ticking ??= (async () => {
      // A store that cannot say its head cannot be read either: the followers' passes report that.
      const head = await store.headPosition().catch(() => undefined);
      if (!coalescing && head !== undefined && recent !== undefined && head > recent.newest) for (const f of followers) f.fed = false;
      kickAll();
    })().finally(() => {
      ticking = undefined;
    });
    for (const [name, run] of jobs) {
      if (!lanes.has(name)) lanes.set(name, run().finally(() => lanes.delete(name)));
    }
  };
  /**
   * Whether `<data>/events.db` was found no longer the file the store holds open, or rewound; else a check started (one
   * stat, one head read). Whoever finds it (this tick, /readyz, a command's admission), the log says it once (start).
   */
  const eventsDbReplaced = (): boolean => {
    const watch = credence.eventsDb;
    if (watch === undefined) return false;
    if (watch.replaced !== undefined) return true;
    watch.check().catch((error: unknown) => report(EVENTS_DB, error));
    return false;
  };
  const signCheckpoint = (): void => {
    if (phase !== 'started' || transparency === undefined || signing !== undefined) return;
    const position = transparency.position;
    if (position === undefined) return;
    // Nothing new to sign: the log is still checked against what the key signed, or a quiet service stayed ready over
    // a log whose checkpoints were removed under it (review 98).
    if (position === signedThrough) {
      signing = timed('transparency', async () => transparency.checkStillSigned()).finally(() => {
        signing = undefined;
      });
      return;
    }
    signing = timed('transparency', async () => {
      await transparency.checkpoint();
      signedThrough = position;
      // Signed, but its copy not kept: said at every period until it is (the check above writes it again).
      const unkept = transparency.witnessUnkept;
      if (unkept !== undefined) throw unkept;
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
    const start = backlogs.get(f);
    // Past what its start backlog counted, not its checkpoint only: an event appended while that was counted is in it.
    const live = tracker.after(later(f.handledThrough, start?.through));
    const backlog = start?.after(progressOf(credence, f)) ?? { count: 0, oldest: undefined };
    return lagOf(live.count + backlog.count, backlog.oldest ?? live.oldest, now, backlog.atLeast === true || live.atLeast === true);
  };

  return {
    start() {
      starting ??= (async () => {
        if (phase !== 'idle') throw new Error('live runtime: already stopped; start a new one');
        // Before the checkpoints are read: a check may reset a read model, whose old checkpoint at the head read as
        // handled, 0 behind, all through its rebuild. Read again, not kept from when the runtime was made: the
        // service's checks (read-model-rebuilds.ts) run in between, and these then only read their answers.
        await checkReadModels(credence.runner);
        // Before anything follows the store, so before the API listens: the keys a keys.db put back from a backup holds
        // in use though the log ended their entity (review 198). A failure is reported and refuses no start: the mark
        // stays, and the next start goes over the same endings again.
        await shredder?.shredAgain().catch((error: unknown) => report(shredder.name, error));
        // The service writes: the claims of keys certified before key claims existed are filled in from now, not at the
        // first device's provisioning (review 204), and the catch-up's progress lines show the pass.
        store.prepareKeyClaims?.();
        for (const f of followers) f.handledThrough = f.position();
        // Read before the head: a record of Credence's then, at or before it.
        const fromOwnRecord = store.gapless !== true && store.ownHeadPosition !== undefined;
        resumeAfter = fromOwnRecord ? await resumePointAtStart(store, followers) : undefined;
        startHead = await store.headPosition();
        if (!fromOwnRecord) resumeAfter = startHead;
        // Stopped meanwhile: nothing is started.
        if (phase !== 'idle') return;
        recent = new RecentEvents(startHead ?? 0n);
        phase = 'started';
        restoreLockWaits = credence.waitForOtherWritersAtMost(LOCK_WAIT_MS);
        stopSayingEventsDb = credence.eventsDb?.whenFound((found) => report(EVENTS_DB, found));
        wakeLoop = followStore();
        if (startHead !== undefined) await countStartBacklogs(credence, followers, startHead, backlogs, report, options.counted?.());
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
        stopSayingEventsDb?.();
        wakeStop.abort();
        await subscription?.unsubscribe();
        await wakeLoop;
        await starting?.catch(() => undefined);
        await Promise.all([...followers.map((f) => f.running), ticking, ...lanes.values(), signing]);
        waiters.endAll();
        // Nothing serves any more: the last checkpoint below may wait for a writer as long as a CLI does.
        restoreLockWaits?.();
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
      // Looked at now, not a tick ago: what GET /v1/projections says of a CA key put back is current.
      await Promise.all((options.outside ?? []).map(lookOutside));
      const now = Date.now();
      const components: ComponentStatus[] = followers.map((f) => {
        const error = f.error ?? f.timedError ?? outsideFailureOf(f.name).error;
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

    // The subscription is left out: the tick moves everything without it, and its error is cleared by an event only.
    failing: () => {
      const [now, wall] = [performance.now(), Date.now()];
      return followers.map((f) => {
        const since = earlier(earlier(f.errorSince, f.timedErrorSince), outsideFailureOf(f.name).since);
        const forMs = since === undefined ? undefined : now - since;
        return { name: f.name, forMs, since: forMs === undefined ? undefined : wall - forMs };
      });
    },

    lag(components) {
      const now = Date.now();
      let eventsBehind = 0;
      let secondsBehind = 0;
      // The largest of counts one of which stopped at its limit is at least that (review 413: said exact, it kept
      // /readyz ready and compliance answers whole-looking at 100,000 behind).
      let atLeast = false;
      for (const f of among(followers, byName, components)) {
        const l = lagOfFollower(f, now);
        eventsBehind = Math.max(eventsBehind, l.eventsBehind);
        secondsBehind = Math.max(secondsBehind, l.secondsBehind);
        if (l.eventsBehindAtLeast === true) atLeast = true;
      }
      return { eventsBehind, ...(atLeast ? { eventsBehindAtLeast: true as const } : {}), secondsBehind };
    },

    caughtUp(position, timeoutMs = 10_000, components) {
      const of = among(followers, byName, components);
      if (isCaughtUp(position, of)) return Promise.resolve(true);
      if (phase === 'stopped') return Promise.resolve(false);
      const caught = waiters.wait(position, of, timeoutMs);
      // Without waiting for the subscription: the position may have been appended a moment ago.
      kickAll();
      return caught;
    },
  };
};
