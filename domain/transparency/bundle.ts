import { z } from 'zod';
import { DEFAULT_JSON_LIMITS, jsonLimitIssue } from '../json-limits.ts';
import type { LoggedEvent } from './leaf.ts';
import type { Checkpoint } from './checkpoint.ts';
import { formatVerifierKey, isValidKeyName, KEY_NAME_RULE, parseVerifierKey, type NoteVerifierKey } from './note.ts';
import type { FieldIssue } from '../errors.ts';
import { BundledEventJson, Hash32, StreamIdText } from './schemas.ts';
import { eventLeafHash } from './leaf.ts';
import { verifyInclusionProof } from './verify-proof.ts';
import { openStreamHead, verifyCompleteness, type IncludedEntry } from './verify-completeness.ts';
import { fail, openCheckpoint, type VerificationResult } from './verify-result.ts';

/**
 * Evidence bundle (issue 4 item 6, issue 10 item 4): an entity's events (their metadata carries the signed
 * requests), each with its leaf index and inclusion proof against one signed checkpoint, the log's signed stream
 * head for that checkpoint (how many events the stream had there, and which), and the log's public key. An
 * auditor checks it offline against the key it pins; the key inside the bundle is only a hint (RFC 9162 4.1: a log's
 * public key is obtained out of band), since anyone can sign a bundle of invented events under a key of their own.
 *
 * Objects are strict (`unknown_member`): every leaf hash covers an event as parsed, so a member the parser dropped
 * would be text in the file that nothing signed covers, and another tool could read it as part of the evidence.
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
  entries: z.array(z.strictObject({ event: BundledEventJson, leafIndex: Index, proof: z.array(Hash32).max(64) })).max(1_000_000),
};

export const EvidenceBundleSchema = z.strictObject({
  format: z.literal(EVIDENCE_BUNDLE_FORMAT),
  ...bundleFields,
  /** Signed stream head note (`stream-head.ts`) for the checkpoint's tree: the stream had exactly these events. */
  streamHead: z.string().min(1).max(65_536),
});

const EvidenceBundleV1Schema = z.strictObject({
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
 * Which key a bundle is checked against. `trustedKey`: the log key the caller pinned, obtained out of band (RFC 9162
 * 4.1); the bundle must name it and be signed by it. `integrityOnly`: the key the bundle names, which proves that the
 * bundle is consistent but not which log issued it (anyone can sign invented events under a key of their own); for a
 * caller that already trusts the source of the bundle more than any key (keyFromBundle is then true in the result).
 */
export type BundleKeyTrust =
  | { readonly trustedKey: NoteVerifierKey; readonly integrityOnly?: never }
  | { readonly integrityOnly: true; readonly trustedKey?: never };

/** Names in a reported path are cut: the path says where, it does not echo the input. */
const MAX_NAME_IN_PATH = 64;
const shown = (segment: PropertyKey): string => {
  const name = String(segment);
  return name.length > MAX_NAME_IN_PATH ? `${name.slice(0, MAX_NAME_IN_PATH)}…` : name;
};

/** The first schema issue as a field issue: an unknown member is named by its path and `unknown_member`. */
const issueOf = (issue: z.core.$ZodIssue | undefined): FieldIssue => {
  if (issue === undefined) return { path: '', rule: 'invalid', message: 'not an evidence bundle' };
  if (issue.code === 'unrecognized_keys') {
    return {
      path: [...issue.path, issue.keys[0] ?? ''].map(shown).join('.'),
      rule: 'unknown_member',
      message: 'unknown_member: a member the bundle format does not define, which no proof covers',
    };
  }
  return { path: issue.path.map(shown).join('.'), rule: issue.code, message: issue.message };
};

/**
 * Verifies a bundle read from a file: every event is in the checkpointed tree, and (format v2) the bundle holds
 * the whole stream as of that tree, as the log's signed stream head states it. With `trustedKey`, the bundle must
 * be signed by that key; with `integrityOnly`, the bundle's own key is used. With neither (a caller in JavaScript
 * passing nothing), the bundle fails with `key_not_pinned` and is never `ok` (found in review 30: a bundle forged
 * under its own key verified). A v1 bundle fails with `completeness_unproven` once its inclusions are checked: nothing
 * in it is signed that says the stream had no other events.
 */
export const verifyEvidenceBundle = (
  input: unknown,
  trust: BundleKeyTrust,
): VerificationResult<{ checkpoint: Checkpoint; streamId: string; events: number; keyFromBundle: boolean }> => {
  // Refused before the recursive JSON schema walks it: deep enough, it would overflow the stack (SER-001).
  const tooBig = jsonLimitIssue(input, DEFAULT_JSON_LIMITS);
  if (tooBig !== undefined) return fail('malformed', `not an evidence bundle: ${tooBig.path || '(root)'}: ${tooBig.message}`);
  const parsed = AnyEvidenceBundleSchema.safeParse(input);
  if (!parsed.success) {
    const issue = issueOf(parsed.error.issues[0]);
    return { ok: false, reason: 'malformed', message: `not an evidence bundle: ${issue.path || '(root)'}: ${issue.message}`, issue };
  }
  const bundle = parsed.data;
  const bundleKey = parseVerifierKey(bundle.logPublicKey)!;
  // Read defensively: the type asks for a choice, a caller from JavaScript may still pass none.
  const trustedKey = (trust as Partial<BundleKeyTrust> | undefined)?.trustedKey;
  const integrityOnly = (trust as Partial<BundleKeyTrust> | undefined)?.integrityOnly === true;
  if (trustedKey === undefined && !integrityOnly) {
    return fail('key_not_pinned', `no log key pinned: the bundle names key ${bundleKey.keyName}, which anyone can sign with; pin the log key obtained out of band`);
  }
  const key = trustedKey ?? bundleKey;
  if (trustedKey !== undefined && formatVerifierKey(bundleKey) !== formatVerifierKey(trustedKey)) {
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
    keyFromBundle: trustedKey === undefined,
  };
};
