import { z } from 'zod';
import { DEFAULT_JSON_LIMITS, jsonLimitIssue } from '../json-limits.ts';
import type { LoggedEvent } from './leaf.ts';
import type { Checkpoint } from './checkpoint.ts';
import { formatVerifierKey, isValidKeyName, KEY_NAME_RULE, parseVerifierKey, type NoteVerifierKey } from './note.ts';
import { Hash32, RecordedEventJson, StreamIdText } from './schemas.ts';
import { eventLeafHash } from './leaf.ts';
import { verifyInclusionProof } from './verify-proof.ts';
import { openStreamHead, verifyCompleteness, type IncludedEntry } from './verify-completeness.ts';
import { fail, openCheckpoint, type VerificationResult } from './verify-result.ts';

/**
 * Evidence bundle (issue 4 item 6, issue 10 item 4): an entity's events (their metadata carries the signed
 * requests), each with its leaf index and inclusion proof against one signed checkpoint, the log's signed stream
 * head for that checkpoint (how many events the stream had there, and which), and the log's public key. An
 * auditor checks it offline; the key inside the bundle is only a hint, a verifier should pin the key it trusts.
 */

export const EVIDENCE_BUNDLE_FORMAT = 'credence-evidence-bundle/v2';
/** The format before stream heads: still read, so that the verifier can say that it proves no completeness. */
export const EVIDENCE_BUNDLE_FORMAT_V1 = 'credence-evidence-bundle/v1';

const Index = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

const bundleFields = {
  streamId: StreamIdText,
  /** Signed-note verifier key: `<name>+<key ID>+base64(0x01 || Ed25519 public key)`. */
  logPublicKey: z
    .string()
    .max(512)
    .refine((k) => isValidKeyName(k.split('+')[0]!), `its key name ${KEY_NAME_RULE}`)
    .refine((k) => parseVerifierKey(k) !== undefined, 'not a valid Ed25519 note verifier key'),
  /** The signed checkpoint note every proof is made against. */
  // A signed note is a few lines and signatures: 64 KiB is far above any.
  checkpoint: z.string().min(1).max(65_536),
  entries: z.array(z.object({ event: RecordedEventJson, leafIndex: Index, proof: z.array(Hash32).max(64) })).max(1_000_000),
};

export const EvidenceBundleSchema = z.object({
  format: z.literal(EVIDENCE_BUNDLE_FORMAT),
  ...bundleFields,
  /** Signed stream head note (`stream-head.ts`) for the checkpoint's tree: the stream had exactly these events. */
  streamHead: z.string().min(1).max(65_536),
});

const EvidenceBundleV1Schema = z.object({
  format: z.literal(EVIDENCE_BUNDLE_FORMAT_V1),
  ...bundleFields,
  /** Declared by the exporter, signed by no one: why v1 proves no completeness. */
  notYetCheckpointed: Index,
});

const AnyEvidenceBundleSchema = z.discriminatedUnion('format', [EvidenceBundleSchema, EvidenceBundleV1Schema]);

export type EvidenceBundle = z.output<typeof EvidenceBundleSchema>;
export type EvidenceBundleJson = z.input<typeof EvidenceBundleSchema>;

export interface EvidenceEntry {
  readonly event: LoggedEvent;
  readonly leafIndex: number;
  readonly proof: readonly Uint8Array[];
}

export const buildEvidenceBundle = (args: {
  readonly streamId: string;
  readonly entries: readonly EvidenceEntry[];
  readonly checkpointNote: string;
  readonly streamHeadNote: string;
  readonly logPublicKey: NoteVerifierKey;
}): EvidenceBundleJson =>
  z.encode(EvidenceBundleSchema, {
    format: EVIDENCE_BUNDLE_FORMAT,
    streamId: args.streamId,
    logPublicKey: formatVerifierKey(args.logPublicKey),
    checkpoint: args.checkpointNote,
    streamHead: args.streamHeadNote,
    entries: args.entries.map((e) => ({ event: e.event, leafIndex: e.leafIndex, proof: [...e.proof] })),
  });

/** Every entry belongs to the stream and is a leaf of the checkpointed tree. */
const verifyInclusions = (
  streamId: string,
  entries: readonly { event: LoggedEvent; leafIndex: number; proof: readonly Uint8Array[] }[],
  checkpoint: Checkpoint,
): VerificationResult<{ included: IncludedEntry[] }> => {
  const included: IncludedEntry[] = [];
  for (const [i, { event, leafIndex, proof }] of entries.entries()) {
    if (event.streamId !== streamId) return fail('wrong_stream', `entry ${i} belongs to ${event.streamId}, not ${streamId}`, event.position);
    const leafHash = eventLeafHash(event);
    if (!verifyInclusionProof(leafIndex, checkpoint.treeSize, leafHash, proof, checkpoint.rootHash)) {
      return fail('not_included', `event at position ${event.position} is not leaf ${leafIndex} of the checkpointed tree`, event.position);
    }
    included.push({ event, leafIndex, leafHash });
  }
  return { ok: true, included };
};

/**
 * Verifies a bundle read from a file: every event is in the checkpointed tree, and (format v2) the bundle holds
 * the whole stream as of that tree, as the log's signed stream head states it. With `trustedKey`, the bundle must
 * be signed by that key; without it the bundle's own key is used, which proves integrity but not which log issued
 * it. A v1 bundle fails with `completeness_unproven` once its inclusions are checked: nothing in it is signed that
 * says the stream had no other events.
 */
export const verifyEvidenceBundle = (
  input: unknown,
  options: { readonly trustedKey?: NoteVerifierKey } = {},
): VerificationResult<{ checkpoint: Checkpoint; streamId: string; events: number; keyFromBundle: boolean }> => {
  // Refused before the recursive JSON schema walks it: deep enough, it would overflow the stack (SER-001).
  const tooBig = jsonLimitIssue(input, DEFAULT_JSON_LIMITS);
  if (tooBig !== undefined) return fail('malformed', `not an evidence bundle: ${tooBig.path || '(root)'}: ${tooBig.message}`);
  const parsed = AnyEvidenceBundleSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return fail('malformed', `not an evidence bundle: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : ''}`);
  }
  const bundle = parsed.data;
  const bundleKey = parseVerifierKey(bundle.logPublicKey)!;
  const key = options.trustedKey ?? bundleKey;
  if (options.trustedKey !== undefined && formatVerifierKey(bundleKey) !== formatVerifierKey(options.trustedKey)) {
    return fail('untrusted_key', `the bundle names key ${bundleKey.keyName}, which is not the trusted log key`);
  }
  const opened = openCheckpoint(bundle.checkpoint, key);
  if (!opened.ok) return opened;
  const { checkpoint } = opened;
  const inclusions = verifyInclusions(bundle.streamId, bundle.entries, checkpoint);
  if (!inclusions.ok) return inclusions;
  if (bundle.format === EVIDENCE_BUNDLE_FORMAT_V1) {
    return fail(
      'completeness_unproven',
      `${bundle.entries.length} events of ${bundle.streamId} are in the log at tree size ${checkpoint.treeSize}, but a ${EVIDENCE_BUNDLE_FORMAT_V1} bundle ` +
        'carries no signed stream head, so nothing proves that the stream had no other events; export the stream again',
    );
  }
  const head = openStreamHead(bundle.streamHead, key);
  if (!head.ok) return head;
  const complete = verifyCompleteness({ streamId: bundle.streamId, checkpoint, head: head.head, entries: inclusions.included });
  if (!complete.ok) return complete;
  return {
    ok: true,
    checkpoint,
    streamId: bundle.streamId,
    events: bundle.entries.length,
    keyFromBundle: options.trustedKey === undefined,
  };
};
