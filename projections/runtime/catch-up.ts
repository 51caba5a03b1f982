import type Database from 'better-sqlite3';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { EventStore, RecordedEvent } from '../../domain/ports/event-store.ts';
import type { DecodedBatch } from './batch.ts';
import { readCheckpoint } from './checkpoints.ts';
import { DeferredQueryIndexes } from './deferred-query-indexes.ts';
import { decodeOnce, ownOfPage, readPage } from './read-page.ts';
import type { Projection } from './types.ts';

/** What a catch-up needs of its runner (runner.ts). */
export interface CatchUpRunner {
  readonly db: Database.Database;
  readonly store: EventStore;
  readonly batchSize: number;
  /** Each projection's event types as a set (undefined: every type). */
  readonly types: ReadonlyMap<string, ReadonlySet<string> | undefined>;
  /** Where reads for the projection resume: after its checkpoint, or before it when no read can start there (resume-point.ts). */
  resumeAfter(name: string): Promise<bigint | undefined>;
  /** How many times the projection was rebuilt, read before its pages. */
  generation(name: string): number;
  /** One batch, under the projection's lock: false when rebuilt since `generation` (nothing applied), else how many. */
  handleBatch(projection: Projection, batch: readonly RecordedEvent[], events: DecodedBatch, generation: number): Promise<number | false>;
}

/** Reads the store from the projections' checkpoints to its head, page by page, for the runner to handle. */
export class CatchUp {
  readonly #runner: CatchUpRunner;
  readonly #queryIndexes: DeferredQueryIndexes;

  constructor(runner: CatchUpRunner) {
    this.#runner = runner;
    this.#queryIndexes = new DeferredQueryIndexes(runner.db);
  }

  one(projection: Projection): Promise<number> {
    return this.#queryIndexes.around([projection], (longWay) => this.#oneFrom(projection, longWay));
  }

  async #oneFrom(projection: Projection, longWay: () => Promise<void>): Promise<number> {
    const runner = this.#runner;
    let count = 0;
    // The last record this catch-up read: past the checkpoint when it ends in another application's records, which
    // move no checkpoint (batch.ts). Forgotten when a rebuild takes the checkpoint back.
    let read: { readonly generation: number; readonly position: bigint } | undefined;
    for (;;) {
      const generation = runner.generation(projection.name);
      const checkpoint = readCheckpoint(runner.db, projection.name)?.position;
      const fresh = read === undefined || read.generation !== generation || (checkpoint !== undefined && checkpoint > read.position);
      const after = fresh ? await runner.resumeAfter(projection.name) : read!.position;
      const batch = await readPage(runner.store, {
        ...(after !== undefined ? { afterPosition: after } : {}),
        ...(projection.eventTypes !== undefined ? { filter: { eventTypes: projection.eventTypes } } : {}),
        maxCount: runner.batchSize,
      });
      if (batch.length === 0) return count;
      if (batch.length >= runner.batchSize) await longWay();
      const events = batch.map(decodeOnce);
      const handled = await runner.handleBatch(projection, batch, events, generation);
      // Rebuilt meanwhile: the rebuild's own catch-up takes it from position 0.
      if (handled === false) return count;
      count += handled;
      read = { generation, position: batch[batch.length - 1]!.position };
      // The embedded store reads synchronously: without a turn of the event loop per page, a catch-up of the whole
      // log (a rebuild after an upgrade) left the process deaf to its probes until it ended (review 51).
      await yieldToLoop();
    }
  }

  /**
   * Every projection from one read of the store: pages from the oldest checkpoint on, each event decoded once,
   * each page handed to the projections in order (each takes its own types past its own checkpoint, in one
   * transaction). Reactions append events; later pages bring them, until a page comes back empty.
   */
  all(projections: readonly Projection[]): Promise<number> {
    return this.#queryIndexes.around(projections, (longWay) => this.#allFrom(projections, longWay));
  }

  async #allFrom(projections: readonly Projection[], longWay: () => Promise<void>): Promise<number> {
    const runner = this.#runner;
    const generations = new Map(projections.map((p) => [p.name, runner.generation(p.name)]));
    const checkpoints = await Promise.all(projections.map((p) => runner.resumeAfter(p.name)));
    let after = checkpoints.some((c) => c === undefined) ? undefined : checkpoints.reduce((a, b) => (b! < a! ? b : a));
    const types = projections.some((p) => p.eventTypes === undefined) ? undefined : [...new Set(projections.flatMap((p) => p.eventTypes!))];
    let active = projections;
    let count = 0;
    while (active.length > 0) {
      const page = await readPage(runner.store, {
        ...(after !== undefined ? { afterPosition: after } : {}),
        ...(types !== undefined ? { filter: { eventTypes: types } } : {}),
        maxCount: runner.batchSize,
      });
      if (page.length === 0) break;
      if (page.length >= runner.batchSize) await longWay();
      // Each event decoded once for every projection.
      const decoded = page.map(decodeOnce);
      for (const projection of active) {
        const { batch, events } = ownOfPage(page, decoded, runner.types.get(projection.name));
        if (batch.length === 0) continue;
        const handled = await runner.handleBatch(projection, batch, events, generations.get(projection.name)!);
        if (handled === false) active = active.filter((p) => p !== projection);
        else count += handled;
      }
      after = page[page.length - 1]!.position;
      await yieldToLoop();
    }
    return count;
  }
}
