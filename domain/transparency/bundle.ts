import { z } from 'zod';
import { factClaimOf } from '../fact-claims.ts';
import { DEFAULT_JSON_LIMITS, jsonLimitIssue, type JsonLimits } from '../json-limits.ts';
import { parseStreamId } from '../streams.ts';
import type { LoggedEvent } from './leaf.ts';
import type { Checkpoint } from './checkpoint.ts';
import { anotherKeyOfThatName, formatVerifierKey, isValidKeyName, keyLabel, KEY_NAME_RULE, parseVerifierKey, type NoteVerifierKey } from './note.ts';
import type { FieldIssue } from '../errors.ts';
import { BundledEventJson, Hash32, StreamIdText } from './schemas.ts';
import { eventLeafHash } from './leaf.ts';
import { verifyInclusionProof } from './verify-proof.ts';
import { openStreamHead, verifyCompleteness, type IncludedEntry } from './verify-completeness.ts';
import { WITHHELD_REASONS, withheldRanges, type WithheldRevisions } from './stream-head.ts';
import { inclusionShapeIssue } from './proof-shape.ts';
import { fail, malformed, openCheckpoint, type VerificationResult } from './verify-result.ts';

/**
 * Evidence bundle (issue 4 item 6, issue 10 item 4): an entity's events (their metadata carries the signed
 * requests), each with its leaf index and inclusion proof against one signed checkpoint, the log's signed stream
 * head for that checkpoint (how many events the stream had there, and which), and the log's public key. An
 * auditor checks it offline against the key it pins; the key inside the bundle is only a hint (RFC 9162 4.1: a log's
 * public key is obtained out of band), since anyone can sign a bundle of invented events under a key of their own.
 *
 * Objects are strict (`unknown_member`): every leaf hash covers an event as parsed, so a member the parser dropped
 * would be text in the file that nothing signed covers, and another tool could read it as part of the evidence.
 *
 * An entry is `withheld` (review 172) when its record names a pseudonym's stream that is not the bundle's own: the
 * `CredenceFactClaimed` marker a pseudonym's rotation leaves on its node's stream (and on its command id's claim
 * stream) on EventStoreDB, whose `claimant` is the pseudonym (domain/fact-claims.ts). Which node stands behind a
 * pseudonym is shown only to an auditor who recorded a resolution of it (SER-025, docs/service.md "Pseudonyms on the
 * read side"), and a bundle travels: it is handed to whoever asks for the node's evidence, and passed on. So every
 * bundle, whoever builds it (the route, `credence export --server` or `--data`), carries such an entry as its leaf
 * index, position, revision, leaf hash and inclusion proof, without the record. The stream head's stream root is
 * over leaf hashes, so the bundle still proves that the stream had exactly these records, and that the withheld one
 * sits at that revision. The record is for an auditor who resolved the pseudonym, through the inclusion proof at
 * that position (GET /v1/transparency/proofs/inclusion), which serves it to them alone.
 *
 * Which revisions are withheld is the log's word, not the exporter's: the signed stream head lists them
 * (stream-head.ts, `withheldRevisionsOf` below, the same rule as here), and the verifier requires the bundle's
 * withheld entries to be exactly those. Found in review: it took any entry as withheld, so a bundle passed on with
 * its NodeRevoked turned into a withheld leaf of the same hash and proof still verified, the revocation hidden.
 *
 * The leaf hash cannot be recomputed from guesses to learn the pseudonym: the leaf (leaf.ts) covers the record's id,
 * and a marker's id is a random UUID (122 random bits; adapters/driven/store/eventstoredb/append.ts claimRecord),
 * not derived from the command or the node as a lifecycle event's is. Knowing the node, the position, the command id
 * and every candidate pseudonym still leaves 2^122 ids to try per candidate.
 */

export const EVIDENCE_BUNDLE_FORMAT = 'credence-evidence-bundle/v2';
/** The format before stream heads: still read, so that the verifier can say that it proves no completeness. */
export const EVIDENCE_BUNDLE_FORMAT_V1 = 'credence-evidence-bundle/v1';

const Index = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
// Positions and revisions as decimal strings (as RecordedEventWire carries them): commit positions pass 2^53.
const DecimalBigInt = z.codec(z.string().max(20).regex(/^(?:0|[1-9][0-9]*)$/, 'a decimal integer without leading zeroes'), z.bigint().nonnegative(), {
  decode: (s) => BigInt(s),
  encode: (n) => n.toString(10),
});

/** Why a record is withheld from a bundle; `WITHHELD_BECAUSE` says it to a person. */
export const WithheldReason = z.enum(WITHHELD_REASONS);
export type WithheldReason = z.infer<typeof WithheldReason>;
export const WITHHELD_BECAUSE: Readonly<Record<WithheldReason, string>> = {
  pseudonym_claimant:
    "fact claims a pseudonym's rotation made, whose records name the pseudonym, which only an auditor who resolved it reads (SER-025)",
};

/**
 * The pseudonym's stream a record names besides its own (a fact claim whose claimant is a pseudonym's stream), or
 * undefined. What such a record says is for an auditor who resolved that pseudonym: a bundle withholds it, and the
 * inclusion proof at its position is refused to anyone else.
 */
export const pseudonymNamedBy = (record: { readonly streamId: string; readonly type: string; readonly data: unknown }): string | undefined => {
  const claimant = factClaimOf(record)?.claimant;
  return claimant !== undefined && claimant !== record.streamId && parseStreamId(claimant)?.kind === 'pseudonym' ? claimant : undefined;
};

/** Why every bundle withholds a record, or undefined: the one rule the bundle and its signed stream head share. */
export const withheldReasonOf = (record: { readonly streamId: string; readonly type: string; readonly data: unknown }): WithheldReason | undefined =>
  pseudonymNamedBy(record) === undefined ? undefined : 'pseudonym_claimant';

/** The stream's records (in revision order) that every bundle withholds, as its stream head signs them. */
export const withheldRevisionsOf = (records: readonly LoggedEvent[]): WithheldRevisions[] =>
  withheldRanges(
    records.flatMap((record) => {
      const reason = withheldReasonOf(record);
      return reason === undefined ? [] : [{ revision: Number(record.revision), reason }];
    }),
  );

/**
 * A withheld record: where it is and its leaf hash, which the entry's proof includes in the checkpointed tree and
 * the stream head's stream root orders among the stream's records. Its position is the exporter's word (only the
 * withheld record's own leaf covers it), held only between its neighbours' (positions rise with leaf index,
 * verifyCompleteness); its revision is checked, as its place in the signed stream root.
 */
const WithheldJson = z.strictObject({ reason: WithheldReason, position: DecimalBigInt, revision: DecimalBigInt, leafHash: Hash32 });

const EntryJson = z
  .strictObject({ event: BundledEventJson.optional(), withheld: WithheldJson.optional(), leafIndex: Index, proof: z.array(Hash32).max(64) })
  .refine((e) => (e.event === undefined) !== (e.withheld === undefined), { message: 'an entry holds its event, or its leaf withheld: one of the two', path: ['event'] });

const MAX_ENTRIES = 1_000_000;

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
  entries: z.array(EntryJson).max(MAX_ENTRIES),
};

export const EvidenceBundleSchema = z.strictObject({
  format: z.literal(EVIDENCE_BUNDLE_FORMAT),
  ...bundleFields,
  /**
   * Signed stream head note (`stream-head.ts`) for the checkpoint's tree: the stream had exactly these events. Its
   * withheld line names at most one revision per entry (17 characters at most each, with its comma).
   */
  streamHead: z.string().min(1).max(65_536 + 17 * MAX_ENTRIES),
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

/** One entry of a bundle as JSON: its event, or its leaf withheld where every bundle withholds the record. */
export type EvidenceEntryJson = z.input<typeof EntryJson>;

/**
 * One entry of a bundle encoded as JSON, withheld by the rule of `withheldReasonOf`. Encoded one at a time so that
 * the caller can let other work run between entries: the whole bundle of an entity at the bound encoded in one call
 * held the event loop half a second and more (review 242).
 */
export const evidenceEntryJson = ({ event, leafIndex, proof }: EvidenceEntry): EvidenceEntryJson => {
  // Withheld here, where every bundle is built, so that no way of exporting serves the record whole.
  const reason = withheldReasonOf(event);
  return z.encode(
    EntryJson,
    reason === undefined
      ? { event, leafIndex, proof: [...proof] }
      : { withheld: { reason, position: event.position, revision: event.revision, leafHash: eventLeafHash(event) }, leafIndex, proof: [...proof] },
  );
};

/** What a bundle is made of: its stream's entries (`E`: as proved, or already encoded) and the notes that vouch for them. */
interface EvidenceBundleParts<E> {
  readonly streamId: string;
  readonly entries: readonly E[];
  readonly checkpointNote: string;
  readonly streamHeadNote: string;
  readonly logPublicKey: NoteVerifierKey;
}

/** A bundle of entries `evidenceEntryJson` encoded, in revision order: the rest of it is encoded here. */
export const assembleEvidenceBundle = (args: EvidenceBundleParts<EvidenceEntryJson>): EvidenceBundleJson => {
  if (args.entries.length > MAX_ENTRIES) throw new RangeError(`entries: a bundle holds at most ${MAX_ENTRIES}, got ${args.entries.length}`);
  const rest = z.encode(EvidenceBundleSchema, {
    format: EVIDENCE_BUNDLE_FORMAT,
    streamId: args.streamId,
    logPublicKey: formatVerifierKey(args.logPublicKey),
    checkpoint: args.checkpointNote,
    streamHead: args.streamHeadNote,
    entries: [],
  });
  return { ...rest, entries: [...args.entries] };
};

export const buildEvidenceBundle = (args: EvidenceBundleParts<EvidenceEntry>): EvidenceBundleJson =>
  assembleEvidenceBundle({ ...args, entries: args.entries.map(evidenceEntryJson) });

type ParsedEntry = z.output<typeof EntryJson>;

/** How many of a bundle's entries are withheld, and why (each reason once). */
export const withheldIn = (entries: readonly { readonly withheld?: { readonly reason: WithheldReason } | undefined }[]): { withheld: number; withheldReasons: WithheldReason[] } => {
  const held = entries.flatMap((e) => (e.withheld !== undefined ? [e.withheld.reason] : []));
  return { withheld: held.length, withheldReasons: [...new Set(held)] };
};

/**
 * Every entry belongs to the stream and is a leaf of the checkpointed tree. A withheld entry is proved from the leaf
 * hash it carries; that it belongs to the stream, and is withheld at all, is the stream head's word, checked by
 * completeness (its stream root is over these leaf hashes, in revision order; its withheld line names the revisions).
 */
const verifyInclusions = (streamId: string, entries: readonly ParsedEntry[], checkpoint: Checkpoint): VerificationResult<{ included: IncludedEntry[] }> => {
  const included: IncludedEntry[] = [];
  for (const [i, { event, withheld, leafIndex, proof }] of entries.entries()) {
    if (event !== undefined && event.streamId !== streamId) return fail('wrong_stream', `entry ${i} belongs to ${event.streamId}, not ${streamId}`, event.position);
    const { position, revision } = (event ?? withheld)!;
    const leafHash = event !== undefined ? eventLeafHash(event) : withheld!.leafHash;
    // A proof of another shape than RFC 9162 fixes for its leaf in the checkpoint's tree is a malformed member, as a
    // schema issue is (review 217: it read as a leaf the log lacks).
    const at = { leafIndex: `entries.${i}.leafIndex`, hashes: `entries.${i}.proof` };
    const shape = inclusionShapeIssue({ leafIndex, hashes: proof.length }, checkpoint.treeSize, at, " (the checkpoint's)");
    if (shape !== undefined) return malformed('not an evidence bundle', shape, position);
    if (!verifyInclusionProof(leafIndex, checkpoint.treeSize, leafHash, proof, checkpoint.rootHash)) {
      const what = event !== undefined ? 'event' : 'withheld record';
      return fail('not_included', `${what} at position ${position} is not leaf ${leafIndex} of the checkpointed tree`, position);
    }
    included.push({ event: { position, revision }, leafIndex, leafHash, ...(withheld !== undefined ? { withheld: withheld.reason } : {}) });
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
 * Why a bundle naming `named` is not under the pinned key, both by key ID (review 190: two keys of one name read
 * "names key credence.local/log, which is not the trusted log key", as if contradicting itself), in the words of
 * noteRefusal. A key ID is 32 bits of a hash: a key made to share name and ID is said as such.
 */
const untrustedKeyMessage = (named: NoteVerifierKey, pinned: NoteVerifierKey): string => {
  const refused = `the bundle is not signed by the key ${keyLabel(pinned)}; it names`;
  if (named.keyName !== pinned.keyName) return `${refused} ${keyLabel(named)}`;
  if (named.keyId !== pinned.keyId) return `${refused} ${anotherKeyOfThatName(keyLabel(named))}`;
  return `${refused} another public key of that name and key ID`;
};

/**
 * Why a bundle whose checkpoint the pinned key signed, but whose `logPublicKey` member names another key, still fails
 * (review 296: it read "not signed by the key" pinned, which was false). Both keys by key ID, never their bytes.
 */
const keyMemberDisagrees = (named: NoteVerifierKey, signedBy: NoteVerifierKey): string => {
  const names =
    named.keyName === signedBy.keyName && named.keyId === signedBy.keyId ? 'another public key of that name and key ID' : keyLabel(named);
  return (
    `the bundle's logPublicKey member names ${names}, which disagrees with the key that signed its checkpoint, ${keyLabel(signedBy)} ` +
    '(the key pinned): the member was changed since the log wrote the bundle, which names the key that signs it'
  );
};

/**
 * A checkpoint or stream head of the bundle that is malformed (its note, or its text), named by its member as a schema
 * issue is (review 217), so that `credence verify` says where and treats it as the malformed file it is.
 */
const inMember = <T>(member: 'checkpoint' | 'streamHead', failed: VerificationResult<T>): VerificationResult<T> =>
  failed.ok || (failed.reason !== 'malformed_checkpoint' && failed.reason !== 'malformed_stream_head')
    ? failed
    : { ...failed, message: `${member}: ${failed.message}`, issue: { path: member, rule: failed.issue?.rule ?? failed.reason, message: failed.issue?.message ?? failed.message } };

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
  /** The bounds the bundle is held to: a caller that read a larger file on purpose (verify --max-bundle-mib) raises them. */
  limits: JsonLimits = DEFAULT_JSON_LIMITS,
): VerificationResult<{
  checkpoint: Checkpoint;
  streamId: string;
  /** Entries of the bundle, withheld ones included: the stream's records as of the checkpoint. */
  events: number;
  /** Entries whose record is withheld (proved by leaf hash), and why (WITHHELD_BECAUSE). */
  withheld: number;
  withheldReasons: WithheldReason[];
  keyFromBundle: boolean;
}> => {
  // Refused before the recursive JSON schema walks it: deep enough, it would overflow the stack (SER-001).
  const tooBig = jsonLimitIssue(input, limits);
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
    // The checkpoint is opened under the pinned key first: signed by it, the bundle's key member alone was changed,
    // which is no bundle as the log wrote it, but not one the pinned key did not sign.
    const signedByPinned = openCheckpoint(bundle.checkpoint, trustedKey).ok;
    return fail('untrusted_key', signedByPinned ? keyMemberDisagrees(bundleKey, trustedKey) : untrustedKeyMessage(bundleKey, trustedKey));
  }
  const opened = openCheckpoint(bundle.checkpoint, key);
  if (!opened.ok) return inMember('checkpoint', opened);
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
  if (!head.ok) return inMember('streamHead', head);
  const complete = verifyCompleteness({ streamId: bundle.streamId, checkpoint, head: head.head, entries: inclusions.included });
  if (!complete.ok) return complete;
  return {
    ok: true,
    checkpoint,
    streamId: bundle.streamId,
    events: bundle.entries.length,
    ...withheldIn(bundle.entries),
    keyFromBundle: trustedKey === undefined,
  };
};
