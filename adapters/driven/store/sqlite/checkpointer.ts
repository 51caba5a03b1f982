import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Durability } from './schema.ts';
import { MAX_TIMER_MS } from './arguments.ts';

/** Counters of the background checkpoints since the store opened (metrics, benchmarks, tests). */
export interface CheckpointStats {
  /** Whether the checkpointer thread has started (it starts once `afterAppends` appends were committed). */
  running: boolean;
  checkpoints: number;
  /** WAL frames copied into the database file by those checkpoints. */
  frames: number;
  /** CPU and I/O time the checkpointer thread spent checkpointing, in ms (not the main thread's). */
  ms: number;
  /** Checkpoints that failed (an I/O error), and the last failure; the writer's own bound still holds the WAL. */
  failures: number;
  lastFailure: string | undefined;
}

/** The counters of a store whose thread never starts (turned off, or in memory). */
export const NO_CHECKPOINTS: Readonly<CheckpointStats> = Object.freeze({ running: false, checkpoints: 0, frames: 0, ms: 0, failures: 0, lastFailure: undefined });

export interface BackgroundCheckpointSettings {
  /**
   * Appends committed after which the checkpointer thread starts; a store that writes less (most tests, a small
   * site between restarts) never pays its start. Default 1,024: about a megabyte of WAL.
   */
  readonly afterAppends?: number;
  /** Least time between two checkpoints, so a page written by several commits is copied once. Default 100 ms. */
  readonly intervalMs?: number;
  /**
   * WAL pages at which the writer checkpoints itself, after a commit, should the thread fall behind: the WAL's bound.
   * Default 8,192 (32 MiB of 4 KiB pages).
   */
  readonly boundPages?: number;
}

/**
 * The thread's program, CommonJS run by `eval` (no TypeScript loader needed in the thread). It checkpoints PASSIVE:
 * it never waits for a lock and never blocks the writer, copying the frames every reader is done with.
 */
const PROGRAM = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('synchronous = ' + workerData.synchronous);
// The checkpoint syncs the WAL before copying it and the database file after: F_FULLFSYNC on macOS when durable.
db.pragma('checkpoint_fullfsync = ' + (workerData.synchronous === 'FULL' ? 'ON' : 'OFF'));
db.pragma('busy_timeout = 0');
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)').raw();
let timer;
// The first checkpoint runs as soon as the thread is woken: "no checkpoint yet" is not a time, and performance.now()
// counts from the process's start, so 0 here delayed it by the interval in a young process and not in an old one.
let last = -Infinity;
const run = () => {
  timer = undefined;
  const started = performance.now();
  last = started;
  try {
    const [busy, log, checkpointed] = checkpoint.get();
    parentPort.postMessage({ kind: 'checkpointed', frames: Number(checkpointed), log: Number(log), busy: Number(busy), ms: performance.now() - started });
  } catch (error) {
    parentPort.postMessage({ kind: 'failed', message: String(error && error.message) });
  }
};
parentPort.on('message', (message) => {
  if (message === 'close') {
    if (timer !== undefined) clearTimeout(timer);
    db.close();
    parentPort.close();
    return;
  }
  if (timer === undefined) timer = setTimeout(run, Math.max(0, last + workerData.intervalMs - performance.now()));
});
`;

const driver = createRequire(import.meta.url).resolve('better-sqlite3');

/**
 * Checkpoints the store's WAL from a thread of its own, off the commit path (issue 15: under `synchronous = FULL`
 * SQLite's automatic checkpoint ran inside nearly every large group's COMMIT, copying and syncing the database file
 * while every caller waited). Durability is unchanged: a commit is acknowledged once its WAL frames are synced, and a
 * checkpoint only copies synced frames into the database file (and syncs it) on a second connection. The writer keeps
 * an automatic checkpoint at `boundPages` so the WAL stays bounded if this thread falls behind; that one finds most
 * frames copied already. The thread starts lazily (about 80 ms of CPU), is unref'd, and is closed before the store.
 */
export class BackgroundCheckpointer {
  readonly stats: CheckpointStats = { running: false, checkpoints: 0, frames: 0, ms: 0, failures: 0, lastFailure: undefined };
  #worker: Worker | undefined;
  #exited: Promise<void> | undefined;
  #appends = 0;
  #closed = false;
  readonly #afterAppends: number;
  readonly #intervalMs: number;
  readonly #boundPages: number;

  constructor(
    private readonly file: string,
    private readonly durability: Durability,
    /** Sets the writer's own automatic checkpoint (PRAGMA wal_autocheckpoint) once the thread runs. */
    private readonly setWriterBound: (pages: number) => void,
    settings: BackgroundCheckpointSettings = {},
  ) {
    this.#afterAppends = settings.afterAppends ?? 1024;
    this.#intervalMs = settings.intervalMs ?? 100;
    this.#boundPages = settings.boundPages ?? 8192;
    if (!Number.isSafeInteger(this.#afterAppends) || this.#afterAppends < 0) throw new Error('options.backgroundCheckpoints.afterAppends: must be a whole number >= 0');
    // setTimeout fires at once for a delay past 2^31 - 1 ms: such an interval would checkpoint continuously.
    if (!Number.isFinite(this.#intervalMs) || this.#intervalMs < 0 || this.#intervalMs > MAX_TIMER_MS) {
      throw new Error(`options.backgroundCheckpoints.intervalMs: must be a number of ms from 0 to ${MAX_TIMER_MS}`);
    }
    if (!Number.isSafeInteger(this.#boundPages) || this.#boundPages < 1) throw new Error('options.backgroundCheckpoints.boundPages: must be a whole number >= 1');
  }

  /** After each successful group COMMIT of `appends` appends: wakes the thread (it checkpoints at most once per interval). */
  committed(appends: number): void {
    if (this.#closed) return;
    if (this.#worker === undefined) {
      this.#appends += appends;
      if (this.#appends < this.#afterAppends) return;
      try {
        this.#start();
      } catch (error) {
        // No thread (resource limits): the writer's automatic checkpoint goes on as before; never tried again.
        this.#closed = true;
        this.stats.failures += 1;
        this.stats.lastFailure = error instanceof Error ? error.message : String(error);
        return;
      }
    }
    this.#worker!.postMessage(0);
  }

  #start(): void {
    const worker = new Worker(PROGRAM, {
      eval: true,
      workerData: { driver, file: this.file, synchronous: this.durability === 'full' ? 'FULL' : 'NORMAL', intervalMs: this.#intervalMs },
    });
    worker.on('message', (message: { kind: string; frames?: number; ms?: number; message?: string }) => {
      if (message.kind === 'failed') {
        this.stats.failures += 1;
        this.stats.lastFailure = message.message;
        return;
      }
      this.stats.checkpoints += 1;
      this.stats.frames += message.frames ?? 0;
      this.stats.ms += message.ms ?? 0;
    });
    // A thread that cannot run (the file gone, no memory) leaves the writer's own checkpoints at their bound.
    worker.on('error', (error) => {
      this.stats.failures += 1;
      this.stats.lastFailure = error.message;
    });
    this.#exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    // After the listeners: adding the first 'message' listener refs the worker's port again (Node's worker.js), which
    // kept a process that ends without closing its store alive for ever.
    worker.unref();
    this.#worker = worker;
    this.stats.running = true;
    this.setWriterBound(this.#boundPages);
  }

  /** Closes the thread's connection and waits for it, so the store's own close is the last one (and removes the WAL). */
  async close(): Promise<void> {
    this.#closed = true;
    const worker = this.#worker;
    if (worker === undefined) return;
    // Held by the event loop until it exits: unref'd, a process with nothing else to do would end while waiting.
    worker.ref();
    worker.postMessage('close');
    await this.#exited;
    this.stats.running = false;
  }
}
