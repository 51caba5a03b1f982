import type { RecordedEvent } from '../../domain/ports/index.ts';
import {
  buildEvidenceBundle,
  eventLeafHash,
  formatCheckpointText,
  formatStreamHeadText,
  inclusionProof,
  MemoryTree,
  rootHash,
  streamRootOf,
  type CheckpointSigner,
} from '../../domain/transparency/index.ts';
import { signNote } from '../../projections/transparency/index.ts';
import { eventId, fixedSigner, keyOf, ORIGIN } from '../transparency-fixtures.ts';

/** The stream the verify tests' bundles are of. */
export const EVIDENCE_STREAM = 'credential-meter-1';

/** Event `i` of a log as the verify tests write it: at position i + 1, of `streamId`, at `revision` (i unless given). */
export const loggedEvent = (i: number, data: RecordedEvent['data'] = { index: i }, streamId = EVIDENCE_STREAM, revision = i): RecordedEvent => ({
  id: eventId(i),
  streamId,
  revision: BigInt(revision),
  position: BigInt(i + 1),
  type: 'CredentialProvisioned',
  data,
  metadata: { actor: 'operator-1' },
});

type NoteEdit = (note: string) => string;
const asSigned: NoteEdit = (note) => note;

/**
 * A log that holds `events` (in that order), signed by `signer`: its Merkle tree, its signed checkpoint and a stream's
 * signed head at any size, and the evidence bundle of a stream. A bundle's notes may be edited (`checkpoint`,
 * `streamHead`) after signing, so that a test hands the verifier notes the log never wrote.
 */
export const evidenceLog = (events: readonly RecordedEvent[], signer: CheckpointSigner = fixedSigner(1)) => {
  const leaves = events.map(eventLeafHash);
  const tree = new MemoryTree(leaves);
  const checkpoint = (size = events.length): Promise<string> =>
    signNote(signer, formatCheckpointText({ origin: ORIGIN, treeSize: size, rootHash: rootHash(tree, size), time: '2026-02-01T00:00:00.000Z' }));
  /** The events of `streamId` among the first `size`, each with its leaf index. */
  const streamOf = (streamId: string, size: number) =>
    events.slice(0, size).flatMap((event, leafIndex) => (event.streamId === streamId ? [{ event, leafIndex }] : []));
  const streamHead = (streamId = EVIDENCE_STREAM, size = events.length): Promise<string> => {
    const stream = streamOf(streamId, size);
    const streamRoot = streamRootOf(stream.map(({ leafIndex }) => leaves[leafIndex]!));
    return signNote(signer, formatStreamHeadText({ origin: ORIGIN, treeSize: size, rootHash: rootHash(tree, size), streamId, events: stream.length, streamRoot }));
  };
  /** The bundle of `streamId` at tree size `size`, as JSON text written compactly (as a server answers it). */
  const bundleText = async (options: { streamId?: string; size?: number; checkpoint?: NoteEdit; streamHead?: NoteEdit } = {}): Promise<string> => {
    const { streamId = EVIDENCE_STREAM, size = events.length } = options;
    const bundle = buildEvidenceBundle({
      streamId,
      entries: streamOf(streamId, size).map(({ event, leafIndex }) => ({ event, leafIndex, proof: inclusionProof(tree, leafIndex, size) })),
      checkpointNote: (options.checkpoint ?? asSigned)(await checkpoint(size)),
      streamHeadNote: (options.streamHead ?? asSigned)(await streamHead(streamId, size)),
      logPublicKey: keyOf(signer),
    });
    return JSON.stringify(bundle);
  };
  /** That bundle parsed back from JSON, so that a test edits it as a file. */
  const bundle = async (options: Parameters<typeof bundleText>[0] = {}): Promise<Record<string, any>> => JSON.parse(await bundleText(options));
  return { tree, checkpoint, streamHead, bundleText, bundle };
};
