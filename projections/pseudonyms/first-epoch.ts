import type { Pseudonym } from '../../domain/events/pseudonym.ts';
import type { PseudonymDeriver } from './derive.ts';

/** Epochs looked up per PRF call while looking for a first pseudonym recorded past epoch 0. */
const CHUNK = 64;

export type FirstEpoch = { readonly epoch: number; readonly recorded?: undefined } | { readonly epoch: number; readonly recorded: Pseudonym };

/**
 * The epoch a node's first pseudonym (the reaction to its registration) is given out at: 0, unless keys.db marks
 * pseudonyms of the node given out already. A log holds one registration per node, so a mark at its registration is
 * a log that lost it (a whole folder or an `events.db` restored from a backup older than it, review 226): registered
 * again, the node took its epoch-0 pseudonym again, which observers had seen, linking the two periods (SER-011). It
 * starts past the mark instead. A reaction run again (a rebuild, a resumed catch-up) finds the rotation it recorded,
 * at epoch 0 (the common case, one lookup) or past it up to the mark, by its command id (`recorded`).
 */
export const firstEpoch = async (o: {
  readonly nodeId: string;
  readonly mark: number | undefined;
  readonly deriver: PseudonymDeriver;
  readonly recorded: (pseudonym: Pseudonym) => Promise<boolean>;
}): Promise<FirstEpoch> => {
  const { nodeId, mark, deriver, recorded } = o;
  if (mark === undefined) return { epoch: 0 };
  // Alone first: a rebuild runs every node's reaction again, and each found at epoch 0 costs one derivation (memoised
  // by the batch's prepare), not a chunk's.
  const first = await deriver.node(nodeId, 0);
  if (await recorded(first)) return { epoch: 0, recorded: first };
  for (let from = 1; from <= mark + 1; from += CHUNK) {
    const epochs = Array.from({ length: Math.min(CHUNK, mark + 2 - from) }, (_, k) => ({ nodeId, epoch: from + k }));
    const pseudonyms = await deriver.nodes(epochs);
    for (const [k, pseudonym] of pseudonyms.entries()) if (await recorded(pseudonym)) return { epoch: from + k, recorded: pseudonym };
  }
  return { epoch: mark + 1 };
};
