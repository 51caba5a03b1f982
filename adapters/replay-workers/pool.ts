import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { EventStore, RecordedEvent } from '../../domain/ports/event-store.ts';
import { isFactClaim } from '../../domain/fact-claims.ts';
import { prunedBeyondSafeNesting } from '../../domain/json-limits.ts';
import { ENTITY_KINDS, type EntityKind } from '../../domain/streams.ts';
import type { CheckpointSource, ClaimTuple, EntityTuple, RevisionTuple } from '../../projections/replay/checkpoint.ts';
import { JUDGE, JUDGE_NOT_ORDER, ORDER_ONLY, partitionOf, routeStreamOf, type RecordRole } from '../../projections/replay/partition.ts';
import { verifyFrom } from '../../projections/replay/all.ts';
import { claimsAreForeign } from '../../projections/replay/foreign-claims.ts';
import { emptyTally, FleetVerifier, summarise, type FleetReplay, type VerifierTally } from '../../projections/replay/verifier.ts';
import { verifierSource } from '../../projections/replay/checkpoint.ts';
import type { FromWorker, PartitionSource, RecordDigests, ToWorker, WorkerCpu } from './messages.ts';
import { recordAtPosition } from '../../projections/runtime/log-check.ts';
import { threadCpuMs } from './thread-cpu.ts';
import { workerLoader, type WorkerBundleOptions, type WorkerLoader } from './worker-bundle.ts';

/** Records per message to a worker: large enough that cloning dominates the messaging cost. */
const BATCH = 2_000;
const PAGE = 5_000;
/** Guess-and-check rounds before giving up on the partitions and replaying on this thread (see speculation.ts). */
const MAX_ROUNDS = 8;

/**
 * Without a fresh prebuilt bundle (worker-bundle.ts), the worker starts from a JavaScript bootstrap that registers
 * tsx's hooks in the new thread and then loads the TypeScript module: a worker does not inherit the loader hooks of
 * the thread that starts it (under `node --import tsx`, `bin/credence.mjs` or vitest alike).
 */
const TSX_WORKER_URL = new URL('./replay-worker-bootstrap.mjs', import.meta.url);

class ReplayWorker {
  readonly #worker: Worker;
  readonly #waiting: ((m: FromWorker) => void)[] = [];
  #failure: Error | undefined;

  constructor(url: URL) {
    this.#worker = new Worker(url);
    this.#worker.on('message', (m: FromWorker) => this.#waiting.shift()?.(m));
    const fail = (error: Error) => {
      this.#failure ??= error;
      for (const w of this.#waiting.splice(0)) w({ type: 'failed', error: this.#failure } as never);
    };
    this.#worker.on('error', fail);
    // A worker that exits while answers are pending (out of memory, killed) fails the replay instead of hanging it.
    this.#worker.on('exit', (code) => fail(new Error(`replay worker exited with code ${code} before answering`)));
  }

  post(message: ToWorker, transfer?: readonly MessagePort[]): void {
    this.#worker.postMessage(message, transfer);
  }

  /** Posts `message` and resolves with the worker's answer (the worker answers in order). */
  ask<T extends FromWorker['type']>(message: ToWorker, type: T): Promise<Extract<FromWorker, { type: T }>> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#waiting.push((m) => {
        if (m.type === type) resolve(m as Extract<FromWorker, { type: T }>);
        else reject((m as unknown as { error?: Error }).error ?? new Error(`replay worker answered ${m.type} to ${message.type}`));
      });
      this.#worker.postMessage(message);
    });
  }

  terminate(): Promise<number> {
    return this.#worker.terminate();
  }
}

/** A channel between every two workers, for the fact revisions of each round (messages.ts PeerRevisions). */
const connectPeers = (workers: readonly ReplayWorker[]): void => {
  const ports: MessagePort[][] = workers.map(() => []);
  for (let i = 0; i < workers.length; i++) {
    for (let j = i + 1; j < workers.length; j++) {
      const { port1, port2 } = new MessageChannel();
      ports[i]!.push(port1);
      ports[j]!.push(port2);
    }
  }
  workers.forEach((w, i) => w.post({ type: 'peers', ports: ports[i]! }, ports[i]!));
};

/** Where a record goes: its entity's partition, or for a fact claim its claimant's (who is judged against it). */
const routeOf = (record: RecordedEvent, count: number): number => partitionOf(routeStreamOf(record.streamId, record.type, record.data), count);

const addTally = (into: VerifierTally, from: VerifierTally): void => {
  into.events += from.events;
  into.foreignEvents += from.foreignEvents;
  for (const k of ENTITY_KINDS) {
    into.entitiesPerKind[k] += from.entitiesPerKind[k];
    into.eventsPerKind[k] += from.eventsPerKind[k];
  }
  into.findings.push(...from.findings);
};

/**
 * The workers' entities with the last revision of each stream as one pass would have it: a fact claim is read in its
 * claimant's partition, so the newest revision a stream reached may be known to another worker than its entity's.
 */
const mergedRevisions = (states: readonly { readonly entities: readonly EntityTuple[]; readonly revisions: readonly RevisionTuple[] }[]) => {
  const newest = new Map<string, bigint>();
  for (const { revisions } of states) {
    for (const [streamId, revision] of revisions) {
      const at = BigInt(revision);
      if ((newest.get(streamId) ?? -1n) < at) newest.set(streamId, at);
    }
  }
  const entities: EntityTuple[] = [];
  for (const { entities: own } of states) {
    for (const tuple of own) {
      const claimed = newest.get(tuple[0]);
      if (claimed === undefined) {
        entities.push(tuple);
        continue;
      }
      newest.delete(tuple[0]);
      const [streamId, kind, id, value, context, revision, commandId] = tuple;
      const last = revision === undefined || BigInt(revision) < claimed ? claimed.toString(10) : revision;
      entities.push(commandId === undefined ? [streamId, kind, id, value, context, last] : [streamId, kind, id, value, context, last, commandId]);
    }
  }
  const revisions: RevisionTuple[] = [...newest].map(([streamId, revision]) => [streamId, revision.toString(10)]);
  return { entities, revisions };
};

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

interface Feed {
  readonly onRecord?: (r: RecordedEvent) => void;
  readonly onRecordDigest?: (position: bigint, digest: string) => void;
  readonly onProgress?: (done: number) => void;
}

/**
 * The workers' record digests in global order: each partition's are in position order, and together they must hold
 * every row of the range exactly once (each row is kept by one partition), or the read is refused.
 */
const mergeDigests = (answers: readonly { readonly digests?: RecordDigests }[], rows: number, onDigest: (position: bigint, digest: string) => void): void => {
  const lists = answers.map((a) => a.digests ?? { positions: new BigInt64Array(0), hashes: new Uint8Array(0) });
  const next = lists.map(() => 0);
  let previous = 0n;
  for (let n = 0; n < rows; n++) {
    let from = -1;
    for (let i = 0; i < lists.length; i++) {
      if (next[i]! < lists[i]!.positions.length && (from < 0 || lists[i]!.positions[next[i]!]! < lists[from]!.positions[next[from]!]!)) from = i;
    }
    if (from < 0) throw new Error(`replay workers digested ${n} records of the ${rows} rows they read`);
    const at = next[from]!++;
    const position = lists[from]!.positions[at]!;
    if (position <= previous) throw new Error(`replay workers digested position ${position} twice or out of order`);
    previous = position;
    onDigest(position, Buffer.from(lists[from]!.hashes.buffer, lists[from]!.hashes.byteOffset + at * 32, 32).toString('hex'));
  }
  if (lists.some((l, i) => next[i] !== l.positions.length)) throw new Error(`replay workers digested more records than the ${rows} rows they read`);
};

/** A record whose data and metadata a structured clone can take: pruned below SAFE_NESTING (json-limits.ts) when deeper. */
const clonable = (record: RecordedEvent): RecordedEvent => {
  const data = prunedBeyondSafeNesting(record.data);
  const metadata = prunedBeyondSafeNesting(record.metadata);
  return data === record.data && metadata === record.metadata ? record : { ...record, data, metadata };
};

/**
 * Posts a batch of records to its worker. A hostile row nested past any stack cannot be cloned (postMessage throws
 * before sending anything): the batch goes again with such rows pruned, which break the same limit there. Only a
 * batch that failed pays for the walk.
 */
const postRecords = (worker: ReplayWorker, batch: { readonly records: RecordedEvent[]; readonly roles: RecordRole[] }): void => {
  try {
    worker.post({ type: 'records', ...batch });
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    worker.post({ type: 'records', records: batch.records.map(clonable), roles: batch.roles });
  }
};

/** This thread reads $all and posts each record to its partition's worker; returns the last position read. */
const routeRecords = async (store: EventStore, workers: readonly ReplayWorker[], options: Feed): Promise<bigint> => {
  const count = workers.length;
  const batches: { records: RecordedEvent[]; roles: RecordRole[] }[] = workers.map(() => ({ records: [], roles: [] }));
  const post = (p: number, record: RecordedEvent, role: RecordRole): void => {
    const batch = batches[p]!;
    batch.records.push(record);
    batch.roles.push(role);
    if (batch.records.length >= BATCH) {
      postRecords(workers[p]!, batch);
      batches[p] = { records: [], roles: [] };
    }
  };
  let position = 0n;
  let read = 0;
  for (;;) {
    let inPage = 0;
    for await (const record of store.readAll({ afterPosition: position, maxCount: PAGE })) {
      inPage++;
      position = record.position;
      options.onRecord?.(record);
      const p = routeOf(record, count);
      // A fact claim is judged in its claimant's partition and ordered in its fact stream's (partition.ts roleIn).
      const q = isFactClaim(record) ? partitionOf(record.streamId, count) : p;
      post(p, record, q === p ? JUDGE : JUDGE_NOT_ORDER);
      if (q !== p) post(q, record, ORDER_ONLY);
    }
    read += inPage;
    options.onProgress?.(read);
    if (inPage < PAGE) break;
  }
  batches.forEach((batch, p) => batch.records.length > 0 && postRecords(workers[p]!, batch));
  return position;
};

/**
 * Each worker reads its own partition from the events file, up to the head fixed here before they start (appends
 * after it wait for the next verification). This thread reads the records too only for `onRecord` (the checkpoint's
 * digest), and then checks it read what the workers did. Every worker must have walked the same rows up to the
 * head, ending on the very event the store holds there: a file that is not this store's log fails the replay
 * instead of judging another history.
 */
const readInWorkers = async (store: EventStore, workers: readonly ReplayWorker[], source: PartitionSource, options: Feed): Promise<bigint> => {
  const head = (await store.headPosition()) ?? 0n;
  if (head === 0n) return 0n;
  const count = workers.length;
  const digests = options.onRecordDigest !== undefined;
  const reads = Promise.all(workers.map((w, partition) => w.ask({ type: 'read', source, head, partition, count, digests }, 'read')));
  let read: number | undefined;
  if (options.onRecord !== undefined) {
    read = 0;
    let position = 0n;
    for (;;) {
      let inPage = 0;
      for await (const record of store.readAll({ afterPosition: position, maxCount: PAGE })) {
        inPage++;
        position = record.position;
        if (position > head) break;
        read++;
        options.onRecord(record);
      }
      options.onProgress?.(read);
      if (inPage < PAGE || position >= head) break;
    }
  }
  // The event at the head, as the store reads it: the workers' last row must be that very event.
  const headId = (await recordAtPosition(store, head))?.id;
  const answers = await reads;
  const rows = answers[0]!.rows;
  if (answers.some((a) => a.rows !== rows || a.last !== head || a.lastId !== headId) || (read !== undefined && read !== rows)) {
    const seen = answers.map((a) => `${a.rows} rows to position ${a.last}`).join(', ');
    throw new Error(`options.source: ${source.file} is not this store's log: the store's head is ${head}${read === undefined ? '' : ` (${read} records)`}, the workers read ${seen}`);
  }
  if (options.onRecordDigest !== undefined) mergeDigests(answers, rows, options.onRecordDigest);
  if (read === undefined) options.onProgress?.(rows);
  return head;
};

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
      const source = { position, tally, entityTuples: () => entities, claimTuples: () => claims, revisionTuples: () => revisions };
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
