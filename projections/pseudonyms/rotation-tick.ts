import type Database from 'better-sqlite3';
import { isCredenceError } from '../../domain/errors.ts';
import type { CommandSink } from '../../domain/ports/index.ts';
import { roundFailure } from '../runtime/index.ts';
import { asFound, type DueRotation, type RotationRounds } from './rotation-round.ts';
import type { RotationOutcome } from './rotation-contract.ts';

export interface TickRoundInput {
  readonly engine: CommandSink;
  readonly rounds: RotationRounds;
  /** The directory (throws before setup). */
  readonly use: () => Database.Database;
  readonly tickLimit: number;
  readonly concurrency: number;
  /** Nodes per store read (rotation.ts, `TICK_CHUNK`). */
  readonly chunkSize: number;
  /** One due node's interval rotation. */
  readonly rotateDue: (rotation: DueRotation) => Promise<RotationOutcome>;
}

/**
 * The next `tickLimit` interval rotations of the round (tick), recorded in the order of the pseudonyms they give out
 * (rotation-round.ts: the order of a round's events is all that tells its rotations apart, review 188; the round
 * derived and ordered once and spent over its ticks, review 189).
 */
export const tickRound = async ({ engine, rounds, use, tickLimit, concurrency, chunkSize, rotateDue }: TickRoundInput): Promise<number> => {
  const now = engine.clock.now().getTime();
  const { rotations: due, read } = await rounds.take(use(), now, tickLimit);
  // Each chunk's nodes (each rotation's fact) in one store read, the next chunk's asked for as soon as one is
  // reached, so the commands never wait for a read per node.
  const prefetched: Promise<void>[] = [];
  const prefetch = (chunk: number): Promise<void> => {
    if (prefetched[chunk] === undefined) {
      const asked = engine.prefetch?.('node', due.slice(chunk * chunkSize, (chunk + 1) * chunkSize).map((r) => r.nodeId)) ?? Promise.resolve();
      // Awaited by the workers that reach the chunk; one that stops first must not leave a rejection unobserved.
      asked.catch(() => undefined);
      prefetched[chunk] = asked;
    }
    return prefetched[chunk]!;
  };
  let rotated = 0;
  let next = 0;
  let failure: { error: unknown; nodeId: string } | undefined;
  let failed = 0;
  let stopped = false;
  // `concurrency` workers take the rotations in order: O(1) per rotation, however many are in flight. A node that
  // cannot rotate (a typed refusal, a broken history) does not stop the others: it stays due for the next tick.
  // Any other failure (the store's I/O) stops the round: the rest would only fail the same way.
  const worker = async (): Promise<void> => {
    while (!stopped && next < due.length) {
      const k = next++;
      const chunk = Math.floor(k / chunkSize);
      if ((chunk + 1) * chunkSize < due.length) void prefetch(chunk + 1);
      const { nodeId } = due[k]!;
      try {
        // A round read at an earlier tick: a node rotated, revoked or moved since is passed over (the next round has it
        // if due). One read this tick is not looked up again: what moves while it runs, the engine refuses, as below.
        if (!read && !asFound(use(), due[k]!, now)) continue;
        await prefetch(chunk);
        const outcome = await rotateDue(due[k]!);
        if (outcome.outcome === 'rotated') rotated++;
      } catch (error) {
        failure ??= { error, nodeId };
        failed++;
        if (!isCredenceError(error)) stopped = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, due.length) }, worker));
  if (failure !== undefined) {
    const { error, nodeId } = failure;
    // The tick's rotations not tried are in no round now: the next tick reads a new one.
    if (stopped) {
      rounds.drop();
      throw error;
    }
    const retry = rounds.left === 0 ? 'at the next tick' : `at the next round (${rounds.left} rotation(s) of this one left)`;
    throw roundFailure(`${failed} of ${due.length} due rotation(s) failed and are tried again ${retry}`, { what: `node ${nodeId}`, error });
  }
  return rotated;
};
