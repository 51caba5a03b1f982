import type { EventStore, RecordedEvent } from '../../domain/ports/event-store.ts';
import type { StoredCheckpoint, TransparencyLogStore } from '../../domain/ports/transparency-log.ts';
import { CredenceError, notFound, protocolError } from '../../domain/errors.ts';
import { assembleEvidenceBundle, evidenceEntryJson, withheldRevisionsOf, type EvidenceBundleJson, type EvidenceEntryJson } from '../../domain/transparency/bundle.ts';
import { constantTimeEqual } from '../../domain/crypto/index.ts';
import type { CheckpointSigner } from '../../domain/transparency/checkpoint-signer.ts';
import { eventLeafHash } from '../../domain/transparency/leaf.ts';
import { noteVerifierKey, type NoteVerifierKey } from '../../domain/transparency/note.ts';
import type { Checkpoint } from '../../domain/transparency/checkpoint.ts';
import { formatStreamHeadText, streamRootOf } from '../../domain/transparency/stream-head.ts';
import { openCheckpoint } from '../../domain/transparency/verify-result.ts';
import { verifyConsistencyProof, verifyInclusionProof } from '../../domain/transparency/verify-proof.ts';
import { alteredLeafMessage, alteredLeafWitness, unwitnessedDisagreement } from './altered-leaf.ts';
import { signNote } from './sign-checkpoint.ts';
import type { TransparencyProjection } from './transparency-projection.ts';

export interface CollectedEvidence {
  readonly bundle: EvidenceBundleJson;
  /** The checkpoint's tree size: the bundle is the whole stream as of it. */
  readonly treeSize: number;
  /** Events of the stream stored after that checkpoint (appended while exporting): not in the bundle. */
  readonly storedAfter: number;
}

/**
 * Leaves handled between two turns of the event loop. Found in review: proving a stream of 20,000 events held the
 * loop 7.3 s in one block, and load shedding turned every other caller away meanwhile. Each leaf is proved, checked
 * and encoded as JSON: 300 of them were 150 ms blocks on a busy machine (review 242), 100 are some 10 to 50 ms.
 */
export const LEAVES_PER_TURN = 100;

/** Lets the event loop serve others (timers, I/O, other requests) every LEAVES_PER_TURN leaves. */
const turn = async (i: number): Promise<void> => {
  if (i > 0 && i % LEAVES_PER_TURN === 0) await new Promise<void>((resolve) => setImmediate(resolve));
};

type EvidenceLog = Pick<TransparencyLogStore, 'latestCheckpoint' | 'streamLeaves' | 'firstUnindexedLeaf' | 'leafAt' | 'leafByPosition' | 'inclusionProof' | 'nodeHash'>;

/**
 * The refusal (422) of an answer the log and the store disagree on: the store no longer holds, or holds altered, an
 * event the log recorded. `step` is what was asked: the evidence bundle (`export`) or an inclusion proof. Nothing is
 * signed or served from it; the operator audits the folder.
 */
export const tampered = (what: string, step = 'export') => protocolError(step, `${what}; run credence verify --data`);

/** A stored checkpoint as the log key signed it (its note opened under the key), or the tamper refusal naming `which`. */
export const signedCheckpointOf = (stored: StoredCheckpoint, logPublicKey: NoteVerifierKey, which: string, step = 'export'): Checkpoint => {
  const opened = openCheckpoint(stored.note, logPublicKey);
  if (!opened.ok) throw tampered(`${which} does not verify under the log key: ${opened.message}`, step);
  return opened.checkpoint;
};

/**
 * The inclusion proof of a leaf, built from the stored subtree hashes, held to the root the checkpoint signs before it
 * is handed out or signed over. A stored hash altered (one node row, which `credence verify --data --repair-nodes`
 * mends) made the inclusion route serve a proof the client read as the event left out of the log (review 372); here
 * it is the log file altered. `what` names the leaf's record in the refusal.
 */
export const provenInclusion = (
  log: Pick<TransparencyLogStore, 'inclusionProof'>,
  leaf: { readonly leafIndex: number; readonly leafHash: Uint8Array },
  checkpoint: Pick<Checkpoint, 'treeSize' | 'rootHash'>,
  what: string,
  step = 'export',
): Uint8Array[] => {
  // A leaf the checkpoint does not cover has no proof against it: said as such (404), never a bare Error (a 500).
  if (leaf.leafIndex >= checkpoint.treeSize) {
    throw new CredenceError({
      code: 'not_found',
      streamId: 'transparency',
      message: `${what} (leaf ${leaf.leafIndex}) is not covered by the signed checkpoint of tree size ${checkpoint.treeSize} yet; ask again after the next checkpoint`,
    });
  }
  const proof = log.inclusionProof(leaf.leafIndex, checkpoint.treeSize);
  if (!verifyInclusionProof(leaf.leafIndex, checkpoint.treeSize, leaf.leafHash, proof, checkpoint.rootHash)) {
    throw tampered(`${what} (leaf ${leaf.leafIndex}) is not in the tree the checkpoint of size ${checkpoint.treeSize} signs: the log file was altered`, step);
  }
  return proof;
};

/**
 * The consistency proof from the tree of size `first` to the one `to` signs, built from the stored subtree hashes,
 * held to the signed roots before it is handed out: `from`'s when the log signed that size, else the first tree's root
 * as the log stores it, which only the second root, signed, then holds (RFC 9162 2.1.4.2 rebuilds it from the proof).
 * A stored hash altered made a proof the client read as a fork (review 372); here it is the log file altered.
 */
export const provenConsistency = (
  log: Pick<TransparencyLogStore, 'consistencyProof' | 'rootHash'>,
  first: number,
  from: Pick<Checkpoint, 'treeSize' | 'rootHash'> | undefined,
  to: Pick<Checkpoint, 'treeSize' | 'rootHash'>,
  step = 'consistency proof',
): Uint8Array[] => {
  const proof = log.consistencyProof(first, to.treeSize);
  const firstRoot = from?.rootHash ?? log.rootHash(first);
  if (!verifyConsistencyProof(first, to.treeSize, firstRoot, to.rootHash, proof)) {
    throw tampered(
      `the consistency proof from tree size ${first} to ${to.treeSize}, built from the log's stored subtree hashes, does not lead to ` +
        `${from !== undefined ? 'the roots the checkpoints of both sizes sign' : `the root the checkpoint of size ${to.treeSize} signs`}: the log file was altered`,
      step,
    );
  }
  return proof;
};

/**
 * The stream's first stored event the index gives no leaf under the checkpoint must be newer than every leaf it signs:
 * then it was appended after the checkpoint (`storedAfter`). Leaves are appended in store order, positions strictly
 * increasing, so one at or below the position of the checkpoint's last leaf was logged, and the index lost its leaf: a
 * leaf row relabelled to another stream and position got a head one event short signed with the genuine key, the
 * event said to be "appended during the export" on every export (review 262). Each row is read through the row rules
 * (`toLeaf`: a negative position is the file altered).
 */
const refuseUnindexedSignedEvent = (log: EvidenceLog, treeSize: number, streamId: string, next: RecordedEvent): void => {
  const nextLeaf = log.leafByPosition(next.position);
  if (nextLeaf !== undefined && nextLeaf.leafIndex < treeSize) {
    throw tampered(`revision ${next.revision} of ${streamId} is leaf ${nextLeaf.leafIndex}, which the log's stream index does not give to ${streamId}`);
  }
  if (treeSize === 0) return;
  const lastSigned = log.leafAt(treeSize - 1);
  if (lastSigned === undefined) throw tampered(`transparency.db holds no leaf ${treeSize - 1}, which the signed checkpoint covers`);
  if (next.position <= lastSigned.position) {
    throw tampered(
      `the log's stream index gives revision ${next.revision} of ${streamId} (position ${next.position}) no leaf, though the checkpoint's last leaf is at position ${lastSigned.position}: the log recorded it, and its leaf row was altered`,
    );
  }
};

/**
 * Builds the evidence bundle of one entity (issue 4 item 6, issue 10 item 4) against the latest signed checkpoint:
 * the stream's events the checkpoint covers, each with its inclusion proof, and a stream head signed with the log
 * key stating that the stream had exactly those events there, and which of them every bundle withholds. The count comes
 * from the log's own stream index, never from the store alone: an event deleted from events.db (a revocation) makes it
 * refuse, not sign a shorter head. The store's events and the log's leaves must match one for one, or nothing is signed.
 * That index is under no signature: whoever deletes the event and relabels its leaf row too gets a shorter head signed,
 * which only `credence verify --data` finds (README, "Complete evidence bundles"); a leaf row relabelled over an event
 * the store still holds is refused here (refuseUnindexedSignedEvent).
 */
export const collectEvidence = async (args: {
  readonly streamId: string;
  /** The stream's events in revision order, read from the store after the checkpoint was signed. */
  readonly streamEvents: readonly RecordedEvent[];
  readonly log: EvidenceLog;
  readonly signer: CheckpointSigner;
}): Promise<CollectedEvidence> => {
  const { streamId, streamEvents, log, signer } = args;
  if (streamEvents.length === 0) throw notFound(streamId, 'stream');
  const stored = log.latestCheckpoint();
  if (stored === undefined) throw protocolError('export', 'the transparency log has no signed checkpoint yet');
  const logPublicKey = noteVerifierKey(signer.keyName, signer.publicKey);
  const checkpoint = signedCheckpointOf(stored, logPublicKey, 'the latest checkpoint');
  const unindexed = log.firstUnindexedLeaf();
  if (unindexed !== undefined && unindexed.leafIndex < checkpoint.treeSize) {
    throw tampered(`leaf ${unindexed.leafIndex} (position ${unindexed.position}) predates the stream index and no stored event matches it`);
  }
  const leaves = log.streamLeaves(streamId, checkpoint.treeSize);
  for (const [i, leaf] of leaves.entries()) {
    await turn(i);
    const event = streamEvents[i];
    if (leaf.stream?.revision !== BigInt(i)) {
      throw tampered(`the log's stream index puts revision ${leaf.stream?.revision} of ${streamId} at leaf ${leaf.leafIndex}, where revision ${i} belongs`);
    }
    if (event === undefined || event.revision !== BigInt(i) || event.id !== leaf.eventId || !constantTimeEqual(eventLeafHash(event), leaf.leafHash)) {
      // The leaf row altered over the event the log key vouches for is said as such, as the audit it points to says
      // it; an event there that nothing signed vouches for blames neither file (review 164).
      const witness = event && alteredLeafWitness(log, logPublicKey, leaf, event);
      if (witness !== undefined) throw tampered(alteredLeafMessage(leaf, witness));
      if (event?.position === leaf.position) throw protocolError('export', unwitnessedDisagreement(leaf.position));
      throw tampered(`the log recorded revision ${i} of ${streamId} at position ${leaf.position}, and the store does not hold that event`);
    }
  }
  const next = streamEvents[leaves.length];
  if (next !== undefined) refuseUnindexedSignedEvent(log, checkpoint.treeSize, streamId, next);
  // Each leaf proved into the checkpoint's tree before the key signs a stream head over them: a log rewritten in both
  // files under an honest checkpoint (the event, its leaf, the stored subtree hashes) got a signed head over the
  // forged stream (found in review).
  // Each entry is encoded as JSON as soon as it is proved, in the same turns: the whole bundle encoded in one call
  // after the loop held the event loop half a second and more at the bound (review 242).
  const entries: EvidenceEntryJson[] = [];
  for (const [i, leaf] of leaves.entries()) {
    await turn(i);
    const proof = provenInclusion(log, leaf, checkpoint, `revision ${i} of ${streamId}`);
    entries.push(evidenceEntryJson({ event: streamEvents[i]!, leafIndex: leaf.leafIndex, proof }));
  }
  const streamHeadNote = await signNote(
    signer,
    formatStreamHeadText({
      origin: checkpoint.origin,
      treeSize: checkpoint.treeSize,
      rootHash: checkpoint.rootHash,
      streamId,
      events: leaves.length,
      streamRoot: streamRootOf(leaves.map((l) => l.leafHash)),
      // Signed, by the rule buildEvidenceBundle withholds by: which entries are withheld is the log's word, not
      // whoever passes the bundle on (found in review: a NodeRevoked carried as a withheld leaf verified).
      withheld: withheldRevisionsOf(streamEvents.slice(0, leaves.length)),
    }),
  );
  return {
    bundle: assembleEvidenceBundle({ streamId, entries, checkpointNote: stored.note, streamHeadNote, logPublicKey }),
    treeSize: checkpoint.treeSize,
    storedAfter: streamEvents.length - leaves.length,
  };
};

/**
 * What `credence export` runs: brings the log up to the store's head, signs a checkpoint on demand when the latest
 * one does not cover every leaf, then collects the evidence, so that a normal export holds the whole stream and
 * an event appended after the last periodic checkpoint (a revocation) is in it. An event appended to the stream
 * while this runs can land after the checkpoint: it tries again, `attempts` times in all, then returns what the
 * checkpoint covers, which its stream head states exactly (`storedAfter` counts the rest).
 */
export const exportEvidence = async (args: {
  readonly streamId: string;
  readonly store: Pick<EventStore, 'readStream'>;
  readonly projection: Pick<TransparencyProjection, 'catchUp' | 'checkpoint'>;
  readonly log: EvidenceLog & Pick<TransparencyLogStore, 'size'>;
  readonly signer: CheckpointSigner;
  readonly attempts?: number;
}): Promise<CollectedEvidence> => {
  const attempts = args.attempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    await args.projection.catchUp();
    if ((args.log.latestCheckpoint()?.treeSize ?? -1) < args.log.size()) await args.projection.checkpoint();
    const streamEvents = await args.store.readStream(args.streamId);
    const evidence = await collectEvidence({ streamId: args.streamId, streamEvents, log: args.log, signer: args.signer });
    if (evidence.storedAfter === 0 || attempt >= attempts) return evidence;
  }
};
