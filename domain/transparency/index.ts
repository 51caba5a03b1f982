export { HASH_SIZE, emptyRootHash, hashLeaf, hashChildren } from './hashing.ts';
export {
  type LoggedEvent,
  type LogJsonObject,
  type LogJsonValue,
  eventLeafBytes,
  eventLeafHash,
} from './leaf.ts';
export { type HashSource, rootHash, inclusionProof, consistencyProof } from './tree.ts';
export {
  type Frontier,
  type CompletedNode,
  emptyFrontier,
  frontierNodes,
  appendLeafHash,
  frontierRoot,
  rootOfLeafHashes,
} from './frontier.ts';
export { MemoryTree } from './memory-tree.ts';
export { rootFromInclusionProof, verifyInclusionProof, verifyConsistencyProof, inclusionProofLength, consistencyProofLength } from './verify-proof.ts';
export {
  ED25519_SIGNATURE_TYPE,
  type NoteVerifierKey,
  type NoteSignature,
  type SignedNote,
  type NoteVerification,
  isValidKeyName,
  KEY_NAME_RULE,
  noteKeyId,
  noteVerifierKey,
  formatVerifierKey,
  parseVerifierKey,
  parseSignedNote,
  readSignedNote,
  type NoteRule,
  type NoteRead,
  formatSignedNote,
  verifyNote,
} from './note.ts';
export { type Checkpoint, type CheckpointParse, formatCheckpointText, parseCheckpointText } from './checkpoint.ts';
export type { CheckpointSigner } from './checkpoint-signer.ts';
export {
  Base64UrlBytes,
  Hash32,
  RecordedEventJson,
  BundledEventJson,
  RecordedEventWire,
  recordedEventToJson,
  type InclusionProof,
  InclusionProofJson,
  type ConsistencyProof,
  ConsistencyProofJson,
} from './schemas.ts';
export {
  type VerificationFailure,
  type VerificationResult,
  type LogPublicKey,
  type RevisionRange,
  fail,
  openCheckpoint,
} from './verify-result.ts';
export {
  STREAM_HEAD_LABEL,
  type StreamHead,
  type StreamHeadParse,
  formatStreamHeadText,
  parseStreamHeadText,
  streamRootOf,
} from './stream-head.ts';
export { openStreamHead, formatRevisionRanges } from './verify-completeness.ts';
export { verifyEventInclusion } from './verify-event.ts';
export { verifyExportedLog } from './verify-log.ts';
export { verifyConsistency } from './verify-consistency.ts';
export {
  EVIDENCE_BUNDLE_FORMAT,
  EVIDENCE_BUNDLE_FORMAT_V1,
  EvidenceBundleSchema,
  type EvidenceBundle,
  type EvidenceBundleJson,
  type EvidenceEntry,
  type BundleKeyTrust,
  buildEvidenceBundle,
  verifyEvidenceBundle,
} from './bundle.ts';
export { toBase64, fromBase64 } from './bytes.ts';
