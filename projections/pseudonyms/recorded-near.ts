import type { Pseudonym } from '../../domain/events/pseudonym.ts';
import type { CommandSender, CommandSink } from '../../domain/ports/index.ts';
import type { PseudonymDeriver } from './derive.ts';

/** Epochs looked at on each side of the refused one: a rotation walks at most this many past its start (rotation.ts). */
export const EPOCHS_AROUND = 64;

export interface RecordedRotation {
  readonly epoch: number;
  readonly pseudonym: Pseudonym;
}

/**
 * The node's rotation recorded under `commandId` at one of the `EPOCHS_AROUND` epochs on either side of `epoch` (not
 * `epoch` itself, where the engine refused it), nearest first; by anyone, or with `by` only by that sender. The store
 * holds a command id on one stream at most, so the first found is the only one.
 *
 * Both sides, because a rotation sent again can aim below or above the one it recorded. Below: the directory moved on
 * past it (an on-demand request sent again, a reaction redelivered). Above: the directory is older than when it was
 * recorded (review 233: a batch's reactions stored, its read models lost by a crash before they were committed; run
 * again over the older directory, an association rotation that had walked past taken epochs starts below its own and
 * looked only further down: it threw at every start, and the directory, which needed the rotations after it, stuck).
 * The engine's refusal does not say which stream holds the id, by design (adapters/engine/idempotency.ts); the node's
 * own pseudonym streams are asked instead. An id on none of them is not this rotation's.
 */
export const rotationRecordedNear = async (
  engine: Pick<CommandSink, 'recorded'>,
  deriver: Pick<PseudonymDeriver, 'nodes'>,
  nodeId: string,
  epoch: number,
  commandId: string,
  by?: CommandSender,
): Promise<RecordedRotation | undefined> => {
  if (engine.recorded === undefined) return undefined;
  const epochs: number[] = [];
  for (let d = 1; d <= EPOCHS_AROUND; d++) {
    epochs.push(epoch + d);
    if (epoch - d >= 0) epochs.push(epoch - d);
  }
  // One PRF call for them all (one Secure Environment call where the key has `prfMany`); memoised for the next.
  const pseudonyms = await deriver.nodes(epochs.map((e) => ({ nodeId, epoch: e })));
  for (const [k, pseudonym] of pseudonyms.entries()) {
    if (await engine.recorded('pseudonym', pseudonym, commandId, by)) return { epoch: epochs[k]!, pseudonym };
  }
  return undefined;
};
