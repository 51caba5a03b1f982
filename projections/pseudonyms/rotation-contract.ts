import type { CredenceError } from '../../domain/errors.ts';
import type { Actor, RequestSignature } from '../../domain/metadata.ts';
import type { Projection } from '../runtime/index.ts';
import type { PseudonymDeriver } from './derive.ts';
import type { EpochMarks } from './epoch-marks.ts';
import type { RotationPolicyInput } from './policy.ts';
import type { CommandSink, ExecuteOptions } from '../../domain/ports/index.ts';

// What the pseudonym rotation process manager (rotation.ts) offers and answers, apart from how it rotates.

export type RotationOutcome =
  | { readonly outcome: 'rotated' | 'duplicate'; readonly nodeId: string; readonly epoch: number; readonly pseudonym: string }
  | { readonly outcome: 'skipped'; readonly nodeId: string; readonly reason: string }
  /**
   * An on-demand rotation that found every epoch it tried taken: rotations of the node stored elsewhere (another
   * process, or ticks and reactions here) that the directory does not show yet. Nothing was recorded; sent again
   * shortly, it starts past them.
   */
  | { readonly outcome: 'busy'; readonly nodeId: string; readonly reason: string };

/**
 * Why a rotation was not recorded: the refusal's own message, which says what the rule asks and what it found
 * (machines/pseudonym.refusals.ts), less the stream id it starts with. That stream is the pseudonym's, and a
 * rotation's answer (a log line, an operator's HTTP answer) names the node, so it must not name the pseudonym too
 * (SER-011). A message that names it anyway, or has another shape, gives way to the rule's name alone.
 */
export const skipReason = (error: CredenceError): string => {
  const { problem } = error;
  if (problem.code !== 'illegal_transition') return 'the pseudonym could not be recorded';
  const pseudonym = problem.streamId.replace(/^pseudonym-/, '');
  const prefix = `${problem.streamId}: `;
  const own = problem.message.startsWith(prefix) ? problem.message.slice(prefix.length) : undefined;
  if (own !== undefined && pseudonym !== '' && !own.includes(pseudonym)) return own;
  return problem.rule !== undefined ? `PseudonymRotated refused by rule ${problem.rule}` : `PseudonymRotated is not allowed in state ${problem.state}`;
};

export interface PseudonymRotation extends Projection {
  /**
   * The keyed PRF the rotations use; the public stream needs the same one, and the epoch each node's first rotation
   * takes (its `firstEpochs`: recorded in the log, else past keys.db's mark), to name a node not rotated yet.
   */
  readonly deriver: PseudonymDeriver;
  /**
   * Rotates every live node whose pseudonym was taken before its class's current interval boundary (engine clock;
   * directory.ts `intervalStart`), or whose rotation is dated after now (recorded while the clock ran ahead); returns
   * how many rotated.
   */
  tick(): Promise<number>;
  /**
   * Rotation on demand (an operator's request). `commandId` makes a retried request idempotent; `options` go with
   * the command to the engine (an interface's check of the caller's token, run right before it is decided). Those of
   * one node run one at a time, each starting past the latest epoch this process found stored for it. `signature`:
   * the operator's request signature (SER-016), over the node it asks for (domain/signing/payload.ts leaves out the
   * pseudonym, epoch and trigger derived here), recorded with the rotation at whichever epoch it lands.
   */
  rotateNow(nodeId: string, actor: Actor, commandId?: string, options?: ExecuteOptions, signature?: RequestSignature): Promise<RotationOutcome>;
  /**
   * Rotates each live node whose epoch mark (epoch-marks.ts) is past what the log holds of it (an `events.db`
   * restored from an older backup) past that mark, so no pseudonym is given out twice; first raises the marks the log
   * is ahead of (rotations recorded by a process that stopped before it marked them). Once per process: the first
   * tick and the first demand wait for it, the directory caught up first. Without marks, nothing. `other`: nodes
   * marked that the log does not know.
   */
  rotatePastMarks(): Promise<PastMarks>;
}

export interface PastMarks {
  readonly behind: number;
  readonly rotated: number;
  readonly other: number;
}

export interface PseudonymRotationOptions {
  readonly engine: CommandSink;
  readonly deriver: PseudonymDeriver;
  readonly policy?: RotationPolicyInput;
  /** Nodes rotated per tick at most; the next tick takes the rest. */
  readonly tickLimit?: number;
  /**
   * Rotations of one tick in flight at once (default `DEFAULT_TICK_CONCURRENCY`): each node's is a command on its
   * own new pseudonym stream, so they are independent, and the store commits the ones that arrive together in one
   * transaction. With the WAL checkpointed off the commit path, 512 and 4,096 rotate 100,000 nodes in the same time
   * on an idle machine (22.9 s each); 4,096 writes a third as many WAL frames but holds the event loop some 0.3 s per
   * group, which a service answering devices during a tick should not. A batch job may pass more
   * (docs/performance.md, "Larger groups").
   */
  readonly tickConcurrency?: number;
  /** Where the epoch each node's pseudonym was given out at is kept, outside the log (epoch-marks.ts). */
  readonly epochMarks?: EpochMarks;
}

/** Rotations of one tick in flight when the options do not say (see `tickConcurrency`). */
export const DEFAULT_TICK_CONCURRENCY = 512;
