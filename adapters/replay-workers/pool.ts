import { Worker } from 'node:worker_threads';
import type { EventStore, RecordedEvent } from '../../domain/ports/event-store.ts';
import { ENTITY_KINDS, type EntityKind } from '../../domain/streams.ts';
import type { CheckpointSource, ClaimTuple, EntityTuple } from '../../projections/replay/checkpoint.ts';
import type { FactRevision } from '../../projections/replay/fact-timeline.ts';
import { partitionOf, routeStreamOf } from '../../projections/replay/partition.ts';
import { verifyFrom } from '../../projections/replay/all.ts';
import { emptyTally, FleetVerifier, summarise, type FleetReplay, type VerifierTally } from '../../projections/replay/verifier.ts';
import { verifierSource } from '../../projections/replay/checkpoint.ts';
import type { FromWorker, PartitionSource, ToWorker } from './messages.ts';

/** Records per message to a worker: large enough that cloning dominates the messaging cost. */
const BATCH = 2_000;
const PAGE = 5_000;
/** Guess-and-check rounds before giving up on the partitions and replaying on this thread (see speculation.ts). */
const MAX_ROUNDS = 8;

/**
 * The worker starts from a JavaScript bootstrap that registers tsx's hooks in the new thread and then loads the
 * TypeScript module: a worker does not inherit the loader hooks of the thread that starts it (under `node --import
 * tsx`, `bin/credence.mjs` or vitest alike).
 */
const WORKER_URL = new URL('./replay-worker-bootstrap.mjs', import.meta.url);

class ReplayWorker {
  readonly #worker: Worker;
  readonly #waiting: ((m: FromWorker) => void)[] = [];
  #failure: Error | undefined;

  constructor() {
    this.#worker = new Worker(WORKER_URL);
    this.#worker.on('message', (m: FromWorker) => this.#waiting.shift()?.(m));
    const fail = (error: Error) => {
      this.#failure ??= error;
      for (const w of this.#waiting.splice(0)) w({ type: 'failed', error: this.#failure } as never);
    };
    this.#worker.on('error', fail);
    // A worker that exits while answers are pending (out of memory, killed) fails the replay instead of hanging it.
    this.#worker.on('exit', (code) => fail(new Error(`replay worker exited with code ${code} before answering`)));
  }

  post(message: ToWorker): void {
    this.#worker.postMessage(message);
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

export interface PartitionedReplay {
  readonly replay: FleetReplay;
  /** The merged end state for a checkpoint (asked for with keepState). */
  readonly source?: CheckpointSource;
  /** Guess-and-check rounds it took (1 when no fact event was refused by a guard over another entity). */
  readonly rounds: number;
  /** Each worker thread's CPU time, ms, where the platform reports it per thread (Linux). */
  readonly workerCpuMs?: readonly number[];
}

const isPartitionSource = (source: unknown): source is PartitionSource =>
  typeof source === 'object' && source !== null &&
  typeof (source as PartitionSource).module === 'string' && (source as PartitionSource).module.length > 0 &&
  typeof (source as PartitionSource).file === 'string' && (source as PartitionSource).file.length > 0;

interface Feed {
  readonly onRecord?: (r: RecordedEvent) => void;
  readonly onProgress?: (done: number) => void;
}

/** This thread reads $all and posts each record to its partition's worker; returns the last position read. */
const routeRecords = async (store: EventStore, workers: readonly ReplayWorker[], options: Feed): Promise<bigint> => {
  const count = workers.length;
  const batches: RecordedEvent[][] = workers.map(() => []);
  let position = 0n;
  let read = 0;
  for (;;) {
    let inPage = 0;
    for await (const record of store.readAll({ afterPosition: position, maxCount: PAGE })) {
      inPage++;
      position = record.position;
      options.onRecord?.(record);
      const p = routeOf(record, count);
      const batch = batches[p]!;
      batch.push(record);
      if (batch.length >= BATCH) {
        workers[p]!.post({ type: 'records', records: batch });
        batches[p] = [];
      }
    }
    read += inPage;
    options.onProgress?.(read);
    if (inPage < PAGE) break;
  }
  batches.forEach((records, p) => records.length > 0 && workers[p]!.post({ type: 'records', records }));
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
  const reads = Promise.all(workers.map((w, partition) => w.ask({ type: 'read', source, head, partition, count }, 'read')));
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
  let headId: string | undefined;
  for await (const record of store.readAll({ afterPosition: head - 1n, maxCount: 1 })) headId = record.id;
  const answers = await reads;
  const rows = answers[0]!.rows;
  if (answers.some((a) => a.rows !== rows || a.last !== head || a.lastId !== headId) || (read !== undefined && read !== rows)) {
    const seen = answers.map((a) => `${a.rows} rows to position ${a.last}`).join(', ');
    throw new Error(`options.source: ${source.file} is not this store's log: the store's head is ${head}${read === undefined ? '' : ` (${read} records)`}, the workers read ${seen}`);
  }
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
    onProgress?: (done: number) => void;
    keepState?: boolean;
    /**
     * The events file of `store` (eventsDbRangeSource): each worker then reads its own partition from it, up to the
     * head this thread fixes, and no record crosses threads. Without it this thread reads and routes every record.
     */
    source?: PartitionSource;
  },
): Promise<PartitionedReplay> => {
  const count = options.workers;
  if (!Number.isInteger(count) || count < 2 || count > 64) throw new RangeError(`options.workers: ${count} is not an integer from 2 to 64`);
  if (options.source !== undefined && !isPartitionSource(options.source)) {
    throw new TypeError('options.source: must name a reader module and an events file, both non-empty strings');
  }
  const workers = Array.from({ length: count }, () => new ReplayWorker());
  try {
    const position =
      options.source === undefined ? await routeRecords(store, workers, options) : await readInWorkers(store, workers, options.source, options);
    for (let round = 1; round <= MAX_ROUNDS; round++) {
      const guesses = await Promise.all(workers.map((w) => w.ask({ type: 'speculate' }, 'speculated')));
      const verified = await Promise.all(
        workers.map((w, i) => {
          const others: FactRevision[] = [];
          guesses.forEach((g, j) => j !== i && others.push(...g.revisions));
          return w.ask({ type: 'verify', revisions: others }, 'verified');
        }),
      );
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
      const workerCpuMs = cpu.every((ms) => ms !== undefined) ? { workerCpuMs: cpu as number[] } : {};
      if (options.keepState !== true) return { replay, rounds: round, ...workerCpuMs };
      const states = await Promise.all(workers.map((w) => w.ask({ type: 'state' }, 'state')));
      const entities: EntityTuple[] = states.flatMap((s) => s.entities);
      const claims: ClaimTuple[] = states.flatMap((s) => s.claims);
      return { replay, rounds: round, ...workerCpuMs, source: { position, tally, entityTuples: () => entities, claimTuples: () => claims } };
    }
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  // Guesses did not settle (a long chain of entities refused because of each other): one pass on this thread.
  const verifier = await verifyFrom(store, new FleetVerifier());
  return { replay: verifier.verdict(), rounds: MAX_ROUNDS + 1, ...(options.keepState === true ? { source: verifierSource(verifier) } : {}) };
};
