import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStoreInDir, type SqliteEventStore } from '../adapters/driven/store/index.ts';
import { createEngine, type Engine } from '../adapters/engine/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { fmtMs, now, rate, summarise } from './stats.ts';
import { threadCpuMs } from '../adapters/replay-workers/thread-cpu.ts';
import { hubRound, hubSetup, iso, lifecycle, subscription } from './workloads.ts';
import { benchEnv, countFromEnv, MIN_RATE_COUNT, MIN_RATE_MS, ratioVerdict, type RateSide } from './verdict.ts';
// The store's concurrency conflicts counted: with per-stream lanes there should be none between callers.
import { countingConflicts } from '../test/support/stores.ts';

/**
 * Issue 15 items 1 and 2 in one run, on the same rows: raw better-sqlite3 one-row transactions with NORMAL and
 * with FULL, the engine one command at a time, and the engine with 64 concurrent callers on distinct and on
 * overlapping entities, every engine phase durable (synchronous = FULL, group commit). Prints p99 latency, peak
 * RSS per phase and the verdicts against the targets (durable concurrent >= 1.0x raw NORMAL and >= 5x raw FULL).
 *
 *   BENCH_ONLY=commands npm run bench
 *   BENCH_SERIAL_NODES (default 150), BENCH_CONCURRENT_NODES (2,000), BENCH_HUB_ROUNDS (30), BENCH_FULL_ROWS (1,500)
 *   BENCH_SERIAL_MAX_NODES (2,000, or BENCH_SERIAL_NODES when larger): the serial phase runs at least
 *   BENCH_SERIAL_NODES lifecycles, then more until it has run the 1,000 commands and 0.5 s its rate needs for a
 *   verdict, but never more than this; one set below BENCH_SERIAL_NODES is refused, naming both (equal to it: no more)
 *   BENCH_INLINE_CHECKPOINTS=1 (the store's checkpoints inside its commits instead of on their own thread)
 *
 * Each size is a whole number >= 0 (anything else is refused, naming it). A ratio is judged only when both of its
 * sides ran at least 1,000 commands or rows and 0.5 s (bench/verdict.ts): a smaller side's verdict is "n/a (why)". A
 * store conflict or a replay finding in any phase fails the bench: those are broken invariants, not slow rates.
 */
const CALLERS = 64;
const env = benchEnv;
/** The most lifecycles the serial phase builds and runs by default (`BENCH_SERIAL_MAX_NODES`): some 12,400 commands. */
const SERIAL_MOST_NODES = 2_000;

/**
 * The serial phase's least and most lifecycles: `BENCH_SERIAL_NODES` (150) and `BENCH_SERIAL_MAX_NODES` (2,000, or the
 * least when larger), each as countFromEnv reads it. A most set below the least is refused, naming both, rather than
 * silently raised to it (review 459): `BENCH_SERIAL_MAX_NODES=0` ran 150 lifecycles, not none more.
 */
export const serialNodesFromEnv = (env: Readonly<Record<string, string | undefined>>): { least: number; most: number } => {
  const least = countFromEnv(env, 'BENCH_SERIAL_NODES', 150);
  const most = countFromEnv(env, 'BENCH_SERIAL_MAX_NODES', Math.max(SERIAL_MOST_NODES, least));
  if (most < least) {
    throw new Error(`BENCH_SERIAL_MAX_NODES (${most}) must be at least BENCH_SERIAL_NODES (${least}): the serial phase runs at least BENCH_SERIAL_NODES lifecycles and never more than BENCH_SERIAL_MAX_NODES`);
  }
  return { least, most };
};

/** What a rate needs for a verdict (bench/verdict.ts): the serial phase runs on until it has both. */
interface RateNeeds {
  readonly count: number;
  readonly ms: number;
}

/** Peak resident set size while `work` runs, sampled every 20 ms (process.resourceUsage().maxRSS never goes down). */
const withPeakRss = async <T>(work: () => Promise<T>): Promise<{ value: T; peakMiB: number }> => {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  try {
    const value = await work();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { value, peakMiB: peak / 2 ** 20 };
  } finally {
    clearInterval(timer);
  }
};

interface Phase {
  readonly label: string;
  readonly commands: number;
  readonly ms: number;
  readonly latencies: number[];
  readonly peakMiB: number;
  readonly conflicts: number;
  /** CPU time of the process (user + system, every thread) during the phase, in µs. */
  readonly cpuMicros?: number;
  /** Of that, the main thread's (the one deciding and committing), when the platform tells. */
  readonly mainCpuMicros?: number | undefined;
  readonly groups?: { groups: number; appends: number; commitMs: number; syncMs: number };
  /** What the replay of the phase's store found (every guard, facts from the timeline): none, or the bench fails. */
  readonly findings?: readonly { readonly reason: string }[];
}

const printPhase = (report: (line: string) => void, p: Phase): void => {
  const { p50, p99 } = summarise(p.latencies);
  // The share of the phase the main thread spent inside commits (checks, inserts, sync): the most a writer thread
  // owning the connection could overlap with deciding.
  const groups =
    p.groups === undefined || p.groups.groups === 0
      ? ''
      : `, ${(p.groups.appends / p.groups.groups).toFixed(1)} appends per commit, ${((p.groups.commitMs / p.ms) * 100).toFixed(0)}% of the time in commits ` +
        `(${((p.groups.syncMs / p.ms) * 100).toFixed(0)}% in COMMIT statements: WAL write, sync, checkpoints), CPU ${p.cpuMicros === undefined ? '?' : (p.cpuMicros / p.commands).toFixed(0)} µs per command` +
        (p.mainCpuMicros === undefined ? '' : ` (main thread ${(p.mainCpuMicros / p.commands).toFixed(0)} µs)`);
  report(
    `${p.label}: ${p.commands.toLocaleString('en-US')} commands in ${(p.ms / 1000).toFixed(1)}s = ${rate(p.commands, p.ms)}, ` +
      `p50 ${fmtMs(p50)}, p99 ${fmtMs(p99)}, ${p.conflicts} store conflicts${groups}, peak RSS ${p.peakMiB.toFixed(0)} MiB`,
  );
};

/** `BENCH_INLINE_CHECKPOINTS=1`: SQLite's own checkpoints inside the commits, as before the background checkpointer. */
const openDurable = (dir: string) => {
  const raw = openSqliteStoreInDir(dir, process.env['BENCH_INLINE_CHECKPOINTS'] === '1' ? { backgroundCheckpoints: false } : {});
  const counted = countingConflicts(raw);
  const engine = createEngine({ store: counted.store, clock: new FakeClock(iso(0)) });
  return { raw, engine, conflicts: counted.conflicts };
};

const timed = async (engine: Engine, input: unknown, latencies: number[]) => {
  const t = now();
  await engine.execute(input);
  latencies.push(now() - t);
};

/** Runs `work` on the durable store `raw`: its wall time, the peak RSS meanwhile and the group commits it made. */
const measuredRun = async (raw: SqliteEventStore, work: () => Promise<unknown>) => {
  const before = { ...raw.groupStats };
  const start = now();
  const cpu = process.cpuUsage();
  const mainBefore = threadCpuMs();
  const { peakMiB } = await withPeakRss(work);
  const { user, system } = process.cpuUsage(cpu);
  const mainAfter = threadCpuMs();
  const ms = now() - start;
  const groups = {
    groups: raw.groupStats.groups - before.groups,
    appends: raw.groupStats.appends - before.appends,
    commitMs: raw.groupStats.commitMs - before.commitMs,
    syncMs: raw.groupStats.syncMs - before.syncMs,
  };
  const mainCpuMicros = mainBefore === undefined || mainAfter === undefined ? undefined : (mainAfter - mainBefore) * 1000;
  return { ms, peakMiB, groups, cpuMicros: user + system, mainCpuMicros };
};

/** `CALLERS` concurrent callers, caller `c` running `work(c)`. */
const concurrently = (work: (caller: number) => Promise<void>) => () => Promise.all(Array.from({ length: CALLERS }, (_, caller) => work(caller)));

/**
 * The engine one command at a time: at least `leastNodes` whole lifecycles, then more until the phase has run the
 * `needs.count` commands and `needs.ms` a rate needs for a verdict (by default MIN_RATE_COUNT and MIN_RATE_MS,
 * bench/verdict.ts; a fixed 150 lifecycles were 930 commands, so its verdict was always n/a), and never more than
 * `mostNodes`, so the phase ends, and its built commands stay bounded, whatever the machine. A `mostNodes` below
 * `leastNodes` is refused (a RangeError naming both) before anything is opened.
 */
export const serialPhase = async (dir: string, leastNodes: number, mostNodes = SERIAL_MOST_NODES, needs: RateNeeds = { count: MIN_RATE_COUNT, ms: MIN_RATE_MS }): Promise<Phase> => {
  if (mostNodes < leastNodes) throw new RangeError(`the serial phase's most ${mostNodes} lifecycles is below its least ${leastNodes}`);
  const { raw, engine, conflicts } = openDurable(dir);
  await engine.execute(subscription());
  // Every phase builds its commands before its clock starts, as the raw side's rows are built before theirs: a
  // lifecycle's credential key is a real Ed25519 point since 87fd62f, and making it (some 100 µs) is the caller's
  // work, which the 42nd to 44th rounds counted as the engine's. So every lifecycle the phase may run is built here.
  const lifecycles = Array.from({ length: mostNodes }, (_, i) => lifecycle('serial', i));
  const latencies: number[] = [];
  const { ms, peakMiB, groups, cpuMicros, mainCpuMicros } = await measuredRun(raw, async () => {
    // Started after measuredRun's clock, so the phase's measured time is at least this one's.
    const start = now();
    for (const [i, commands] of lifecycles.entries()) {
      if (i >= leastNodes && latencies.length >= needs.count && now() - start >= needs.ms) break;
      for (const c of commands) await timed(engine, c, latencies);
    }
  });
  await raw.close();
  return { label: 'engine, one command at a time, durable', commands: latencies.length, ms, latencies, peakMiB, conflicts: conflicts(), groups, cpuMicros, mainCpuMicros };
};

/** 64 callers, each running the lifecycles of its own nodes (no entity shared between callers). */
const distinctPhase = async (dir: string, nodes: number): Promise<Phase & { store: SqliteEventStore }> => {
  const { raw, engine, conflicts } = openDurable(dir);
  await engine.execute(subscription());
  const commandsOf = Array.from({ length: CALLERS }, (_, caller) => {
    const own = [];
    for (let i = caller; i < nodes; i += CALLERS) own.push(...lifecycle('meter', i));
    return own;
  });
  const latencies: number[] = [];
  const { ms, peakMiB, groups, cpuMicros, mainCpuMicros } = await measuredRun(
    raw,
    concurrently(async (caller) => {
      for (const c of commandsOf[caller]!) await timed(engine, c, latencies);
    }),
  );
  const { hitRate, assumedNew } = engine.cacheStats();
  const cacheNote = `cache hit rate ${(hitRate * 100).toFixed(1)}%, ${assumedNew.toLocaleString('en-US')} new entities started without a read`;
  return { label: `engine, ${CALLERS} concurrent callers on distinct entities, durable (${cacheNote})`, commands: latencies.length, ms, latencies, peakMiB, conflicts: conflicts(), groups, cpuMicros, mainCpuMicros, store: raw };
};

/**
 * 64 callers on 16 hubs, four callers per hub at any moment: every association reads its hub's node and credential
 * as facts, and every round resolves the hub's pseudonym, one stream written by all four.
 */
const overlappingPhase = async (dir: string, rounds: number): Promise<Phase> => {
  const hubs = 16;
  const { raw, engine, conflicts } = openDurable(dir);
  await engine.execute(subscription());
  for (let h = 0; h < hubs; h++) for (const c of hubSetup(h)) await engine.execute(c);
  const commandsOf = Array.from({ length: CALLERS }, (_, caller) => Array.from({ length: rounds }, (_, round) => hubRound((caller + round) % hubs, caller, round)).flat());
  const latencies: number[] = [];
  const { ms, peakMiB, groups, cpuMicros, mainCpuMicros } = await measuredRun(
    raw,
    concurrently(async (caller) => {
      for (const c of commandsOf[caller]!) await timed(engine, c, latencies);
    }),
  );
  // Every decision valid against its facts at commit: the replay (every guard, facts from the timeline) finds nothing.
  const findings = (await replayAll(raw)).findings;
  await raw.close();
  return {
    label: `engine, ${CALLERS} concurrent callers on ${hubs} overlapping hubs, durable (replay findings: ${findings.length})`,
    commands: latencies.length, ms, latencies, peakMiB, conflicts: conflicts(), groups, cpuMicros, mainCpuMicros, findings,
  };
};

type Row = { stream: string; revision: bigint; id: string; type: string; data: string; metadata: string };

/** Raw better-sqlite3, one row per transaction (the engine commits each command on its own, so the raw side does too). */
const rawInsertRate = (dir: string, rows: readonly Row[], synchronous: 'NORMAL' | 'FULL') => {
  const db = new Database(join(dir, `raw-${synchronous}.db`));
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  db.exec(`CREATE TABLE events (position INTEGER PRIMARY KEY AUTOINCREMENT, stream_id TEXT NOT NULL, revision INTEGER NOT NULL,
    event_id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL, UNIQUE (stream_id, revision))`);
  const insert = db.prepare('INSERT INTO events (stream_id, revision, event_id, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?)');
  const one = db.transaction((r: Row) => insert.run(r.stream, r.revision, r.id, r.type, r.data, r.metadata));
  const start = now();
  const cpu = process.cpuUsage();
  for (const r of rows) one(r);
  const { user, system } = process.cpuUsage(cpu);
  const ms = now() - start;
  db.close();
  return { ms, cpuPerRow: rows.length === 0 ? 'n/a' : ((user + system) / rows.length).toFixed(0) };
};

/** The invariants the phases must keep: no store conflict between callers, no replay finding. */
const brokenInvariants = (phases: readonly Phase[]): string[] =>
  phases.flatMap((p) => [
    ...(p.conflicts > 0 ? [`${p.label}: ${p.conflicts} store conflicts (there should be none with per-stream lanes)`] : []),
    ...(p.findings !== undefined && p.findings.length > 0 ? [`${p.label}: ${p.findings.length} replay findings, the first: ${p.findings[0]!.reason}`] : []),
  ]);

export async function benchCommands(report: (line: string) => void): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'credence-commands-'));
  try {
    // Every size read (and refused if it is no count) before the first phase runs.
    const serialNodes = serialNodesFromEnv(process.env);
    const [concurrentNodes, hubRounds, fullRowCount] = [env('BENCH_CONCURRENT_NODES', 2_000), env('BENCH_HUB_ROUNDS', 30), env('BENCH_FULL_ROWS', 1_500)];
    const serial = await serialPhase(join(dir, 'serial'), serialNodes.least, serialNodes.most);
    const distinctRun = await distinctPhase(join(dir, 'distinct'), concurrentNodes);

    // The same rows: the events the distinct phase stored, inserted raw.
    const rows: Row[] = [];
    for await (const e of distinctRun.store.readAll()) {
      rows.push({ stream: e.streamId, revision: e.revision, id: e.id, type: e.type, data: JSON.stringify(e.data), metadata: JSON.stringify(e.metadata) });
    }
    // The distinct store's decisions replayed as the overlapping one's are; then closed, so that its checkpointer
    // thread is gone before the overlapping phase's RSS is sampled.
    const distinctFindings = (await replayAll(distinctRun.store)).findings;
    await distinctRun.store.close();
    const distinct: Phase = { ...distinctRun, label: distinctRun.label.replace(/\)$/, `, replay findings: ${distinctFindings.length})`), findings: distinctFindings };
    const overlapping = await overlappingPhase(join(dir, 'overlapping'), hubRounds);

    const normal = rawInsertRate(dir, rows, 'NORMAL');
    const fullRows = rows.slice(0, fullRowCount);
    const full = rawInsertRate(dir, fullRows, 'FULL');

    report(`raw better-sqlite3 one-row transactions, synchronous = NORMAL: ${rows.length.toLocaleString('en-US')} rows at ${rate(rows.length, normal.ms)}, CPU ${normal.cpuPerRow} µs per row`);
    report(`raw better-sqlite3 one-row transactions, synchronous = FULL: ${fullRows.length.toLocaleString('en-US')} of the same rows at ${rate(fullRows.length, full.ms)}, CPU ${full.cpuPerRow} µs per row`);
    for (const phase of [serial, distinct, overlapping]) printPhase(report, phase);
    const broken = brokenInvariants([serial, distinct, overlapping]);
    if (broken.length > 0) throw new Error(`the commands bench broke an invariant: ${broken.join('; ')}`);

    const rawNormal: RateSide = { label: 'raw NORMAL', count: rows.length, unit: 'rows', ms: normal.ms };
    const rawFull: RateSide = { label: 'raw FULL', count: fullRows.length, unit: 'rows', ms: full.ms };
    const engineSide = (label: string, p: Phase): RateSide => ({ label: `the engine (${label})`, count: p.commands, unit: 'commands', ms: p.ms });
    const serialSide = engineSide('one at a time', serial);
    report(`one command at a time, durable: ${ratioVerdict(serialSide, rawNormal)} raw NORMAL, ${ratioVerdict(serialSide, rawFull)} raw FULL`);
    for (const [label, p] of [['distinct', distinct], ['overlapping', overlapping]] as const) {
      const side = engineSide(label, p);
      report(`durable concurrent engine (${label}) vs raw one-row NORMAL: ${ratioVerdict(side, rawNormal, 1.0)}; vs raw one-row FULL: ${ratioVerdict(side, rawFull, 5.0)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
