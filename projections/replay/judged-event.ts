import type { ReadStored } from '../../machines/index.ts';
import type { DecodedEvent } from '../../domain/stored.ts';

/**
 * What the replay's passes read of a decoded event (verifier.ts `apply`, speculation.ts): the event, its instant and
 * its command id. A replay worker holds its whole partition between the passes, so it keeps only this of each decoded
 * event: the rest of the metadata held until the verdict was a sixth of its heap, all of it copied by every scavenge.
 */
export type JudgedEvent = Pick<DecodedEvent, 'event' | 'at'> & { readonly metadata: Pick<DecodedEvent['metadata'], 'commandId'> };

/** A stored record as the passes read it: ReadStored, with a decoded event narrowed to what they read. */
export type ReadForJudging = Exclude<ReadStored, { readonly ok: true }> | { readonly ok: true; readonly value: JudgedEvent };
