import type { RecordedEvent } from '../../domain/ports/event-store.ts';
import type { TransparencyLogStore } from '../../domain/ports/transparency-log.ts';
import { notFound, protocolError } from '../../domain/errors.ts';
import { buildEvidenceBundle, type EvidenceBundleJson, type EvidenceEntry } from '../../domain/transparency/bundle.ts';
import { equalBytes } from '../../domain/transparency/bytes.ts';
import { eventLeafHash } from '../../domain/transparency/leaf.ts';
import type { NoteVerifierKey } from '../../domain/transparency/note.ts';

/**
 * Builds the evidence bundle of one entity (issue 4 item 6): its events in revision order, each with its leaf
 * index and inclusion proof against the latest signed checkpoint. Events the checkpoint does not cover yet are
 * counted, not included. An event that no longer matches its leaf is refused: evidence is never built from a
 * tampered store.
 */
export const collectEvidence = (args: {
  readonly streamId: string;
  /** The stream's events in revision order, as the store returns them. */
  readonly streamEvents: readonly RecordedEvent[];
  readonly log: Pick<TransparencyLogStore, 'latestCheckpoint' | 'leafByPosition' | 'inclusionProof'>;
  readonly logPublicKey: NoteVerifierKey;
}): EvidenceBundleJson => {
  if (args.streamEvents.length === 0) throw notFound(args.streamId, 'stream');
  const checkpoint = args.log.latestCheckpoint();
  if (checkpoint === undefined) throw protocolError('export', 'the transparency log has no signed checkpoint yet');
  const entries: EvidenceEntry[] = [];
  for (const event of args.streamEvents) {
    const leaf = args.log.leafByPosition(event.position);
    if (leaf === undefined || leaf.leafIndex >= checkpoint.treeSize) break;
    if (leaf.eventId !== event.id || !equalBytes(leaf.leafHash, eventLeafHash(event))) {
      throw protocolError('export', `stored event at position ${event.position} does not match its log leaf; run credence verify --data`);
    }
    entries.push({ event, leafIndex: leaf.leafIndex, proof: args.log.inclusionProof(leaf.leafIndex, checkpoint.treeSize) });
  }
  return buildEvidenceBundle({
    streamId: args.streamId,
    entries,
    checkpointNote: checkpoint.note,
    logPublicKey: args.logPublicKey,
    notYetCheckpointed: args.streamEvents.length - entries.length,
  });
};
