import { Worker } from 'node:worker_threads';
import type { EventStore, RecordedEvent } from '../../domain/ports/event-store.ts';
import { ENTITY_KINDS, type EntityKind } from '../../domain/streams.ts';
import type { CheckpointSource, ClaimTuple, EntityTuple } from '../../projections/replay/checkpoint.ts';
import type { FactRevision } from '../../projections/replay/fact-timeline.ts';
import { partitionOf } from '../../projections/replay/partition.ts';
import { verifyFrom } from '../../projections/replay/all.ts';
import { emptyTally, FleetVerifier, summarise, type FleetReplay, type VerifierTally } from '../../projections/replay/verifier.ts';
import { verifierSource } from '../../projections/replay/checkpoint.ts';
import type { FromWorker, ToWorker } from './messages.ts';

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
const routeOf = (record: RecordedEvent, count: number): number => {
  const claimant = (record.data as { claimant?: unknown }).claimant;
  return partitionOf(record.type === 'CredenceFactClaimed' && typeof claimant === 'string' ? claimant : record.streamId, count);
};

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
}

/**
 * The fleet verdict on `workers` threads, identical to the one-pass replay: the entities are partitioned by a hash
 * of their stream id; each worker first guesses its fact entities' timeline (speculation.ts), the guesses of all
 * partitions make the timeline every worker consults as of each event's position, and a second pass judges every
 * event with every guard. When both passes refuse the same fact events, the timeline was exact; otherwise the
 * refusals found feed the next guess. This thread reads the store and routes the records.
 */
export const replayInWorkers = async (
  store: EventStore,
  options: { workers: number; onRecord?: (r: RecordedEvent) => void; onProgress?: (done: number) => void; keepState?: boolean },
): Promise<PartitionedReplay> => {
  const count = options.workers;
  if (!Number.isInteger(count) || count < 2 || count > 64) throw new RangeError(`options.workers: ${count} is not an integer from 2 to 64`);
  const workers = Array.from({ length: count }, () => new ReplayWorker());
  try {
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
      if (options.keepState !== true) return { replay, rounds: round };
      const states = await Promise.all(workers.map((w) => w.ask({ type: 'state' }, 'state')));
      const entities: EntityTuple[] = states.flatMap((s) => s.entities);
      const claims: ClaimTuple[] = states.flatMap((s) => s.claims);
      return { replay, rounds: round, source: { position, tally, entityTuples: () => entities, claimTuples: () => claims } };
    }
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  // Guesses did not settle (a long chain of entities refused because of each other): one pass on this thread.
  const verifier = await verifyFrom(store, new FleetVerifier());
  return { replay: verifier.verdict(), rounds: MAX_ROUNDS + 1, ...(options.keepState === true ? { source: verifierSource(verifier) } : {}) };
};
