import { z } from 'zod';
import type { LoggedEvent } from './leaf.ts';
import type { Checkpoint } from './checkpoint.ts';
import { formatVerifierKey, parseVerifierKey, type NoteVerifierKey } from './note.ts';
import { Hash32, RecordedEventJson } from './schemas.ts';
import { eventLeafHash } from './leaf.ts';
import { verifyInclusionProof } from './verify-proof.ts';
import { fail, openCheckpoint, type VerificationResult } from './verify-result.ts';

/**
 * Evidence bundle (issue 4 item 6): an entity's events (their metadata carries the signed requests), each with
 * its leaf index and inclusion proof against one signed checkpoint, and the log's public key. An auditor checks
 * it offline; the key inside the bundle is only a hint, a verifier should pin the key it trusts.
 */

export const EVIDENCE_BUNDLE_FORMAT = 'credence-evidence-bundle/v1';

const Index = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const EvidenceBundleSchema = z.object({
  format: z.literal(EVIDENCE_BUNDLE_FORMAT),
  streamId: z.string().min(1),
  /** Signed-note verifier key: `<name>+<key ID>+base64(0x01 || Ed25519 public key)`. */
  logPublicKey: z.string().refine((k) => parseVerifierKey(k) !== undefined, 'not a valid Ed25519 note verifier key'),
  /** The signed checkpoint note every proof is made against. */
  checkpoint: z.string().min(1),
  entries: z.array(z.object({ event: RecordedEventJson, leafIndex: Index, proof: z.array(Hash32) })),
  /** Events of the stream stored after the checkpoint: not covered by it, so not in the bundle. */
  notYetCheckpointed: Index,
});

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
  readonly logPublicKey: NoteVerifierKey;
  readonly notYetCheckpointed: number;
}): EvidenceBundleJson =>
  z.encode(EvidenceBundleSchema, {
    format: EVIDENCE_BUNDLE_FORMAT,
    streamId: args.streamId,
    logPublicKey: formatVerifierKey(args.logPublicKey),
    checkpoint: args.checkpointNote,
    entries: args.entries.map((e) => ({ event: e.event, leafIndex: e.leafIndex, proof: [...e.proof] })),
    notYetCheckpointed: args.notYetCheckpointed,
  });

/**
 * Verifies a bundle read from a file. With `trustedKey`, the bundle must be signed by that key; without it the
 * bundle's own key is used, which proves integrity but not which log issued it.
 */
export const verifyEvidenceBundle = (
  input: unknown,
  options: { readonly trustedKey?: NoteVerifierKey } = {},
): VerificationResult<{ checkpoint: Checkpoint; streamId: string; events: number; keyFromBundle: boolean }> => {
  const parsed = EvidenceBundleSchema.safeParse(input);
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
  for (const [i, entry] of bundle.entries.entries()) {
    const { event } = entry;
    if (event.streamId !== bundle.streamId) {
      return fail('wrong_stream', `entry ${i} belongs to ${event.streamId}, not ${bundle.streamId}`, event.position);
    }
    // The bundle is the stream's history from its start: a gap in revisions is an omitted event.
    if (event.revision !== BigInt(i)) {
      return fail('incomplete_history', `entry ${i} has revision ${event.revision}; expected ${i}`, event.position);
    }
    if (!verifyInclusionProof(entry.leafIndex, checkpoint.treeSize, eventLeafHash(event), entry.proof, checkpoint.rootHash)) {
      return fail(
        'not_included',
        `event at position ${event.position} is not leaf ${entry.leafIndex} of the checkpointed tree`,
        event.position,
      );
    }
  }
  return {
    ok: true,
    checkpoint,
    streamId: bundle.streamId,
    events: bundle.entries.length,
    keyFromBundle: options.trustedKey === undefined,
  };
};
