import { isFactClaim } from '../../domain/fact-claims.ts';
import { decodeStored, type DecodedEvent, type StoredRecord } from '../../domain/stored.ts';
import { NewerEventError } from './newer-event.ts';

/** Where a reader passed over a stored event, and why (decodeStored's reason): never what the event holds. */
export interface PassedOver {
  readonly position: bigint;
  readonly streamId: string;
  readonly revision: bigint;
  readonly type: string;
  readonly reason: string;
  /** Stored outside its entity's stream (domain/stored.ts). */
  readonly misplaced: boolean;
}

/**
 * What a reader of the log does with a stored event (README, "Someone who can write the data folder"): one that no
 * version reads as a fact (stored outside its entity's stream, data or metadata its schema refuses at a version this
 * build knows) is passed over: undefined. The projections do so (runtime/read-page.ts), and so do the identity fold,
 * publicLifecycle and the event streams, so a subscriber is told the history the read models hold, and a stream goes
 * on past such an event instead of ending at it on every reconnect (review 79). Replay reports it. `passOver` is
 * told of each one.
 *
 * One that a newer version wrote (decodeStored's `newer`: an unknown type, or a schema version above this build's,
 * in a stream of its entity's kind and with Credence's metadata) throws a NewerEventError instead: passed over, a
 * subscriber would resume after it and never get it once the server is upgraded (review 85). Whatever version it
 * claims, one in another kind's stream or in a stream of no entity, another application's event (a shared EventStoreDB
 * cluster) and a fact claim are no lifecycle events of any version: passed over, since no upgrade would ever read
 * them and a stream ending at them would end there on every reconnect for good (review 86).
 */
export const lifecycleFact = (record: StoredRecord, passOver?: (passed: PassedOver) => void): DecodedEvent | undefined => {
  const decoded = decodeStored(record);
  if (decoded.ok) return decoded.value;
  if (decoded.newer === true && !isFactClaim(record)) {
    throw new NewerEventError(record.position, record.streamId, record.revision, record.type, decoded.reason);
  }
  passOver?.({
    position: record.position,
    streamId: record.streamId,
    revision: record.revision,
    type: record.type,
    reason: decoded.reason,
    misplaced: decoded.misplaced === true,
  });
  return undefined;
};
