/**
 * Whether a record of the log is one Credence wrote: an entity's stream (its events and the fact claims on it) or a
 * command id's claim (`credence-command-<id>`, adapters/driven/store/eventstoredb/append.ts). On an EventStoreDB
 * cluster shared with other applications, theirs sit in $all too, in streams of their own, and leave it when their
 * stream is deleted or trimmed and the server scavenges (docs/eventstoredb.md): a position kept or resumed from must
 * be one of Credence's own records, which are never removed, so that it stays readable (review 179).
 */
import { parseStreamId } from './streams.ts';

/** The stream prefix of a command id's claim; the EventStoreDB adapter names its claims with it. */
export const COMMAND_CLAIM_PREFIX = 'credence-command-';

/** A system stream (`$`-prefixed) is the server's, never Credence's. */
export const isOwnStream = (streamId: string): boolean =>
  !streamId.startsWith('$') && (parseStreamId(streamId) !== undefined || streamId.startsWith(COMMAND_CLAIM_PREFIX));
