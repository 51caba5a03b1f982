import type { RecordedEvent } from '../../domain/ports/event-store.ts';
import { READ_MODELS_DB_FILE } from '../driven/readmodels/index.ts';
import { TRANSPARENCY_DB_FILE } from '../driven/transparency/index.ts';
import type { Credence } from './credence.ts';

/**
 * One follower: a pass handles everything up to a position, the head read when it began (a catch-up from the store)
 * or the newest event the subscription delivered (fed).
 */
export interface Follower {
  readonly name: string;
  /** The file its passes write (named when another process holds its write lock). */
  readonly file: string;
  /** Catches up from the component's own checkpoint, reading the store. */
  readonly pass: () => Promise<unknown>;
  /** Hands the component events the subscription delivered (all types, in order); false: it cannot, run `pass`. */
  readonly feed: (records: readonly RecordedEvent[]) => Promise<boolean>;
  /** The position the component itself holds it handled (its checkpoint, the log's newest leaf). */
  readonly position: () => bigint | undefined;
  /** Fed from the subscription's records once a `pass` succeeded; a failure or a missed wake-up resets it. */
  fed: boolean;
  handledThrough: bigint | undefined;
  running: Promise<void> | undefined;
  /** When the last pass began (performance.now()). */
  lastPass: number;
  again: boolean;
  failures: number;
  /** No pass starts before this (performance.now(): the back-off is in-process time, not the wall clock's). */
  retryAt: number;
  error: string | undefined;
  /** When the passes' current run of failures began (performance.now()): /readyz tells one failed attempt from a stuck component. */
  errorSince: number | undefined;
  /** The wall-clock work of the same component (the expiry tick, a rotation tick, a checkpoint signature). */
  timedError: string | undefined;
  /** When `timedError` was first said in its current run (performance.now()). */
  timedErrorSince: number | undefined;
}

const follower = (name: string, file: string, component: Pick<Follower, 'pass' | 'feed' | 'position'>): Follower => ({
  name,
  file,
  ...component,
  fed: false,
  handledThrough: component.position(),
  running: undefined,
  lastPass: Number.NEGATIVE_INFINITY,
  again: false,
  failures: 0,
  retryAt: 0,
  error: undefined,
  errorSince: undefined,
  timedError: undefined,
  timedErrorSince: undefined,
});

/**
 * The components the live runtime keeps moving, in the order they run: the runner's projections (the cascade
 * first), then the transparency log. Each catches up from its own checkpoint, or is fed what the subscription
 * delivered: `runner.handle` picks a projection's own types past its checkpoint, `ingest` what the log lacks.
 */
export const followersOf = ({ runner, transparency }: Pick<Credence, 'runner' | 'transparency'>): Follower[] => {
  const projection = (name: string): Follower => {
    // Read before each catch-up from the store: a rebuild after it refuses the records fed (runner.handle).
    let generation = runner.generation(name);
    return follower(
      name,
      READ_MODELS_DB_FILE,
      {
        pass: () => {
          generation = runner.generation(name);
          return runner.catchUp(name);
        },
        feed: (records) => runner.handle(name, records, generation),
        position: () => runner.checkpoint(name),
      },
    );
  };
  const log = (t: NonNullable<Credence['transparency']>): Follower =>
    follower(
      'transparency',
      TRANSPARENCY_DB_FILE,
      {
        // Handled once the first checkpoint of a new log is signed too (TransparencyProjection.firstCheckpoint): an
        // event a caller waited for is then vouched for by the key, not only logged (review 93).
        pass: async () => {
          await t.catchUp();
          await t.firstCheckpoint();
        },
        // Appends past the log's own last position only, so a record it holds already is not logged twice.
        feed: async (records) => {
          await t.ingestHeld(records);
          await t.firstCheckpoint();
          return true;
        },
        position: () => t.position,
      },
    );
  return [...runner.names.map(projection), ...(transparency !== undefined ? [log(transparency)] : [])];
};
