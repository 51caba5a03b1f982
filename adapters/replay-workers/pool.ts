import type { EventStore, RecordedEvent } from '../../domain/ports/event-store.ts';
import type { EntityKind } from '../../domain/streams.ts';
import type { CheckpointSource, ClaimTuple } from '../../projections/replay/checkpoint.ts';
import { verifyFrom } from '../../projections/replay/all.ts';
import { claimsAreForeign } from '../../projections/replay/foreign-claims.ts';
import { emptyTally, FleetVerifier, summarise, type FleetReplay } from '../../projections/replay/verifier.ts';
import { verifierSource } from '../../projections/replay/checkpoint.ts';
import { commandIdsAcross } from '../../projections/replay/command-ids.ts';
import type { PartitionSource, WorkerCpu } from './messages.ts';
import { threadCpuMs } from './thread-cpu.ts';
import type { WorkerLoader } from './bundle-loader.ts';
import { addTally, mergedRevisions } from './merge-partitions.ts';
import { connectPeers, ReplayWorker } from './replay-worker-thread.ts';
import { workerLoader, type WorkerBundleOptions } from './worker-bundle.ts';
import { readInWorkers, routeRecords } from './worker-feed.ts';

/** Guess-and-check rounds before giving up on the partitions and replaying on this thread (see speculation.ts). */
const MAX_ROUNDS = 8;

/**
 * Without a fresh prebuilt bundle (worker-bundle.ts), the worker starts from a JavaScript bootstrap that registers
 * tsx's hooks in the new thread and then loads the TypeScript module: a worker does not inherit the loader hooks of
 * the thread that starts it (under `node --import tsx`, `bin/credence.mjs` or vitest alike).
 */
const TSX_WORKER_URL = new URL('./replay-worker-bootstrap.mjs', import.meta.url);

export interface PartitionedReplay {
  readonly replay: FleetReplay;
  /** The merged end state for a checkpoint (asked for with keepState). */
  readonly source?: CheckpointSource;
  /** Guess-and-check rounds it took (1 when no fact event was refused by a guard over another entity). */
  readonly rounds: number;
  /** Each worker thread's CPU time, ms, where the platform reports it per thread (Linux). */
  readonly workerCpuMs?: readonly number[];
  /** The same per phase (loading the code, reading, guessing the timeline, judging). */
  readonly workerPhasesMs?: readonly WorkerCpu[];
  /** This thread's CPU time for the run, ms (bundle check, reading or routing, passing the timeline on). */
  readonly mainCpuMs?: number;
  /** How the workers were loaded: a fresh prebuilt bundle (built by this run or before), or tsx and why. */
  readonly loader: { readonly kind: 'bundle'; readonly built: boolean } | { readonly kind: 'tsx'; readonly reason: string };
}

const isPartitionSource = (source: unknown): source is PartitionSource =>
  typeof source === 'object' && source !== null &&
  typeof (source as PartitionSource).module === 'string' && (source as PartitionSource).module.length > 0 &&
  typeof (source as PartitionSource).file === 'string' && (source as PartitionSource).file.length > 0;

/**
 * The fleet verdict on `workers` threads, identical to the one-pass replay: the entities are partitioned by a hash
 * of their stream id; each worker first guesses its fact entities' timeline (speculation.ts), the guesses of all
 * partitions make the timeline every worker consults as of each event's position, and a second pass judges every
 * event with every guard. When both passes refuse the same fact events, the timeline was exact; otherwise the
 * refusals found feed the next guess. This thread reads the store and routes the records, or with `source` each
 * worker reads its own partition from the events file.
 */
export const replayInWorkers = async (
  store: EventStore,
  options: {
    workers: number;
    onRecord?: (r: RecordedEvent) => void;
    /**
     * With `source`: each record's digest (record-digest.ts digestOfRecord), in position order, computed by the worker
     * that read it, so this thread does not read the log a second time for the checkpoint's chained digest.
     */
    onRecordDigest?: (position: bigint, digest: string) => void;
    onProgress?: (done: number) => void;
    /**
     * Without `source`: the last position to verify, fixed beforehand (a replay checkpoint's anchor on a store shared
     * with other applications: Credence's newest record, verify-fleet.ts); omitted, whatever the store holds.
     */
    until?: bigint;
    keepState?: boolean;
    /**
     * The events file of `store` (eventsDbRangeSource): each worker then reads its own partition from it, up to the
     * head this thread fixes, and no record crosses threads. Without it this thread reads and routes every record.
     */
    source?: PartitionSource;
    /**
     * Where the workers' prebuilt bundle is cached and whether to build it when missing or stale (worker-bundle.ts);
     * false starts them through tsx. A stale bundle is never used.
     */
    bundle?: WorkerBundleOptions | false;
  },
): Promise<PartitionedReplay> => {
  const count = options.workers;
  if (!Number.isInteger(count) || count < 2 || count > 64) throw new RangeError(`options.workers: ${count} is not an integer from 2 to 64`);
  if (options.onRecordDigest !== undefined && options.source === undefined) {
    throw new TypeError('options.onRecordDigest: needs options.source (workers that read their partitions digest them)');
  }
  if (options.until !== undefined && options.source !== undefined) {
    throw new TypeError('options.until: not with options.source (workers reading their partitions read up to the head this thread fixes)');
  }
  if (options.source !== undefined && !isPartitionSource(options.source)) {
    throw new TypeError('options.source: must name a reader module and an events file, both non-empty strings');
  }
  const mainCpuBefore = threadCpuMs();
  const loader: WorkerLoader =
    options.bundle === false ? { kind: 'tsx', reason: 'options.bundle is false' } : await workerLoader(options.source ? [options.source.module] : [], options.bundle);
  const workers = Array.from({ length: count }, () => new ReplayWorker(loader.kind === 'bundle' ? loader.worker : TSX_WORKER_URL));
  const loaded: PartitionedReplay['loader'] =
    loader.kind === 'bundle' ? { kind: 'bundle', built: loader.built } : { kind: 'tsx', reason: loader.reason };
  /** The head the workers read up to (and digested): the fallback below stops there too. */
  let head: bigint | undefined;
  try {
    connectPeers(workers);
    // From a bundle, a worker imports the bundled reader: the same code, without TypeScript hooks in its thread.
    const source = options.source === undefined || loader.kind !== 'bundle'
      ? options.source
      : { module: loader.modules.get(options.source.module) ?? options.source.module, file: options.source.file };
    const position = source === undefined ? await routeRecords(store, workers, options) : await readInWorkers(store, workers, source, options);
    head = position;
    // A command id is the store's, not a stream's (review 420): the ids of every partition, in global order, say which
    // events hold one an earlier event took, on their stream or another, before either pass judges them.
    const { ids, repeats } = commandIdsAcross(await Promise.all(workers.map((w) => w.ask({ type: 'commands' }, 'commands'))));
    workers.forEach((w, i) => w.post({ type: 'repeats', positions: repeats[i]! }));
    for (let round = 1; round <= MAX_ROUNDS; round++) {
      // Each worker sends its guess straight to its peers; the verdict pass waits for all of them.
      await Promise.all(workers.map((w) => w.ask({ type: 'speculate', round }, 'speculated')));
      const verified = await Promise.all(workers.map((w) => w.ask({ type: 'verify', round, claimsForeign: claimsAreForeign(store) }, 'verified')));
      if (!verified.every((v) => v.consistent)) continue;
      const tally = emptyTally();
      verified.forEach((v) => addTally(tally, v.tally));
      const replay = summarise(tally, []);
      for (const v of verified) {
        for (const [kind, states] of Object.entries(v.states)) {
          const into = replay.kinds[kind as EntityKind].states;
          for (const [state, n] of Object.entries(states)) into[state] = (into[state] ?? 0) + n;
        }
      }
      const cpu = verified.map((v) => v.threadCpuMs);
      const mainCpu = threadCpuMs();
      const workerCpuMs = {
        ...(cpu.every((ms) => ms !== undefined) ? { workerCpuMs: cpu as number[] } : {}),
        workerPhasesMs: verified.map((v) => v.cpu),
        ...(mainCpu !== undefined && mainCpuBefore !== undefined ? { mainCpuMs: mainCpu - mainCpuBefore } : {}),
      };
      if (options.keepState !== true) return { replay, rounds: round, loader: loaded, ...workerCpuMs };
      const states = await Promise.all(workers.map((w) => w.ask({ type: 'state' }, 'state')));
      const { entities, revisions } = mergedRevisions(states);
      const claims: ClaimTuple[] = states.flatMap((s) => s.claims);
      const source = {
        position, tally, entityTuples: () => entities, claimTuples: () => claims, revisionTuples: () => revisions, commandIdChunks: () => ids.toChunks(),
      };
      return { replay, rounds: round, loader: loaded, ...workerCpuMs, source };
    }
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  // Guesses did not settle (a long chain of entities refused because of each other): one pass on this thread, up to
  // the same head, which the record digests (onRecordDigest) cover: a checkpoint must not claim what they do not.
  const verifier = await verifyFrom(store, new FleetVerifier(), head === undefined ? {} : { until: head });
  return { replay: verifier.verdict(), rounds: MAX_ROUNDS + 1, loader: loaded, ...(options.keepState === true ? { source: verifierSource(verifier) } : {}) };
};
