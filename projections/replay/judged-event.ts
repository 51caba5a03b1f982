import { COMMAND_TYPES } from '../../domain/commands/catalog.ts';
import type { ReadStored } from '../../machines/index.ts';
import type { DecodedEvent } from '../../domain/stored.ts';

/**
 * What the replay's passes read of a decoded event (verifier.ts `apply`, speculation.ts): the event, its instant, its
 * command id and command type (command-records.ts). A replay worker holds its whole partition between the passes, so it
 * keeps only this of each decoded event: the rest of the metadata held until the verdict was a sixth of its heap, all of
 * it copied by every scavenge.
 */
export type JudgedEvent = Pick<DecodedEvent, 'event' | 'at'> & { readonly metadata: Pick<DecodedEvent['metadata'], 'commandId' | 'commandType'> };

/** Each command type of the catalog, as one string shared by every record that names it. */
const SHARED_COMMAND_TYPES = new Map<string, string>(COMMAND_TYPES.map((type) => [type, type]));

/**
 * What a worker keeps of a decoded event's metadata: its command id, and its command type as the catalog's own string
 * (one per type, not one per record, so keeping it costs a worker a pointer per record); a type the catalog does not
 * name is kept as read.
 */
export const judgedMetadata = (metadata: DecodedEvent['metadata']): JudgedEvent['metadata'] => ({
  commandId: metadata.commandId,
  commandType: SHARED_COMMAND_TYPES.get(metadata.commandType) ?? metadata.commandType,
});

/** A stored record as the passes read it: ReadStored, with a decoded event narrowed to what they read. */
export type ReadForJudging = Exclude<ReadStored, { readonly ok: true }> | { readonly ok: true; readonly value: JudgedEvent };
