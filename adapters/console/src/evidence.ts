import { z } from 'zod';
import { readNamedJsonText } from '../../../domain/json-duplicate-names.ts';
import { decodeStored } from '../../../domain/stored.ts';
import { parseRequestSigningPolicy, storedSignatureJudgement, type InvalidSignatureReason } from '../../../domain/signing/index.ts';
import {
  fail,
  formatRevisionRanges,
  parseVerifierKey,
  RecordedEventJson,
  verifyEvidenceBundle,
  type VerificationFailure,
  type VerificationResult,
} from '../../../domain/transparency/index.ts';
import { WITHHELD_BECAUSE, WithheldReason } from '../../../domain/transparency/bundle.ts';
import { INVALID_BECAUSE } from '../../../domain/signing/invalid-because.ts';

/**
 * Evidence bundles checked in the browser with the domain's own verifier, the one `credence verify FILE.json`
 * runs: no server's word is taken. The checks are reported in the order the verifier makes them; the first that
 * fails is named with the verifier's reason, and those after it were not reached.
 */

export interface Check {
  readonly id: string;
  readonly label: string;
  readonly outcome: 'passed' | 'failed' | 'not reached' | 'skipped';
  readonly detail?: string;
}

const CHECKS: readonly { id: string; label: string; failures: readonly VerificationFailure[] }[] = [
  { id: 'format', label: 'Well-formed bundle (credence-evidence-bundle/v2)', failures: ['malformed'] },
  { id: 'key', label: 'Signed by the pinned log key', failures: ['untrusted_key', 'key_not_pinned'] },
  { id: 'checkpoint', label: 'Signed checkpoint (C2SP signed note, Ed25519)', failures: ['malformed_checkpoint', 'bad_checkpoint_signature'] },
  { id: 'inclusion', label: 'Merkle inclusion of every event (RFC 9162)', failures: ['wrong_stream', 'not_included', 'proof_size_mismatch', 'root_mismatch'] },
  { id: 'stream-head', label: 'Signed stream head', failures: ['malformed_stream_head', 'bad_stream_head_signature', 'completeness_unproven'] },
  {
    id: 'completeness',
    // A withheld entry the signed stream head does not list (or one it lists served whole) fails here.
    label: 'Complete history: every revision, in order, withheld only where the stream head states it',
    failures: ['stream_head_mismatch', 'incomplete_history', 'out_of_order', 'missing_entries', 'origin_mismatch', 'inconsistent'],
  },
  // Last: a bundle that passes everything else may still be another entity's (a server answering for another).
  { id: 'stream', label: 'Of the entity asked for', failures: [] },
];

export interface BundleReport {
  readonly result: VerificationResult<{
    streamId: string;
    events: number;
    /** Entries carried withheld (a record naming a pseudonym): proved by leaf hash, without the record. */
    withheld: number;
    withheldReasons: readonly WithheldReason[];
    keyFromBundle: boolean;
    checkpoint: { treeSize: number; time?: string };
  }>;
  readonly checks: readonly Check[];
  readonly failedCheck?: string;
  /**
   * Of a bundle that passed, what it carries withheld, said with the verdict as `credence verify` says it in its
   * success line (review 181: only the inclusion check's detail said it); absent when nothing is withheld.
   */
  readonly withheldNote?: string;
  /**
   * What the page says: `verified` only under a pinned key; `key_not_pinned` when every check passed under the key the
   * bundle names (integrity, not which log issued it: RFC 9162 4.1, the key is obtained out of band); else `failed`.
   */
  readonly verdict: 'verified' | 'key_not_pinned' | 'failed';
}

/**
 * `expectedStream`: the entity's stream when the bundle was fetched for it; a genuine bundle of another stream fails
 * there (`wrong_stream`), as `credence verify <stream> --server` fails it (found in review 30: the console took any).
 * Without a pinned key the checks run under the key the bundle names, and the result says so (`keyFromBundle`): that
 * proves integrity, never which log issued it, so the page must not call it verified (RFC 9162 4.1).
 */
export const verifyBundle = (bundle: unknown, pinnedKey: string, expectedStream?: string): BundleReport | { keyError: string } => {
  const trimmed = pinnedKey.trim();
  const trustedKey = trimmed === '' ? undefined : parseVerifierKey(trimmed);
  if (trimmed !== '' && trustedKey === undefined) return { keyError: 'the pinned key is not a note verifier key (<name>+<key ID>+<base64>)' };
  const verified = verifyEvidenceBundle(bundle, trustedKey === undefined ? { integrityOnly: true } : { trustedKey });
  const otherStream = verified.ok && expectedStream !== undefined && verified.streamId !== expectedStream;
  const result: BundleReport['result'] = otherStream ? fail('wrong_stream', `the bundle is of ${verified.streamId}, not of ${expectedStream}`) : verified;
  const failedAt = otherStream ? CHECKS.findIndex((c) => c.id === 'stream') : result.ok ? -1 : CHECKS.findIndex((c) => c.failures.includes(result.reason));
  const checks = CHECKS.map((c, i): Check => {
    if (c.id === 'key' && trustedKey === undefined && (result.ok || i < failedAt)) {
      return { id: c.id, label: c.label, outcome: 'skipped', detail: 'no key pinned: checked with the key inside the bundle, which anyone can sign with' };
    }
    if (c.id === 'stream' && expectedStream === undefined && (result.ok || i < failedAt)) {
      return { id: c.id, label: c.label, outcome: 'skipped', detail: 'loaded from a file: the bundle is of the stream it names' };
    }
    if (c.id === 'inclusion' && result.ok && result.withheld > 0) {
      return { id: c.id, label: c.label, outcome: 'passed', detail: `${result.withheld} of ${result.events}${withheldSays(result)}` };
    }
    if (result.ok || i < failedAt) return { id: c.id, label: c.label, outcome: 'passed' };
    if (i === failedAt && !result.ok) {
      const missing = result.missing ? ` (not covered: revisions ${formatRevisionRanges(result.missing)})` : '';
      return { id: c.id, label: c.label, outcome: 'failed', detail: `${result.reason}: ${result.message}${missing}` };
    }
    return { id: c.id, label: c.label, outcome: 'not reached' };
  });
  const failed = checks.find((c) => c.outcome === 'failed');
  const verdict = !result.ok ? 'failed' : result.keyFromBundle ? 'key_not_pinned' : 'verified';
  return {
    result,
    checks,
    verdict,
    ...(failed !== undefined ? { failedCheck: failed.label } : {}),
    ...(result.ok && result.withheld > 0 ? { withheldNote: `${result.withheld} of them${withheldSays(result)}` } : {}),
  };
};

/** Why a passed bundle's withheld entries are withheld and how they still verify (bin/commands/verify-checks.ts says the same). */
const withheldSays = (result: { withheldReasons: readonly WithheldReason[] }): string =>
  ` withheld, as the signed stream head lists them, proved by leaf hash without their record: ${result.withheldReasons.map((r) => WITHHELD_BECAUSE[r]).join('; ')}`;

/** A withheld entry's place and reason, as much of it as a signature row shows. */
const Withheld = z.object({ reason: WithheldReason, position: z.string().max(20) });

export interface SignatureRow {
  readonly position: string;
  readonly type: string;
  readonly actor: string;
  readonly status: 'unsigned' | 'signed, not checked' | 'verified' | 'invalid' | 'unreadable' | 'withheld';
  /** Why it is `invalid`, the verifier's word, as the timeline's `signature.reason` gives it (review 182). */
  readonly reason?: InvalidSignatureReason;
  readonly detail?: string;
}

/** What the page shows of the signatures, by the verdict (signatureTable). */
export type SignatureTable =
  | { readonly policyError: string }
  | { readonly notShown: string }
  | { readonly rows: SignatureRow[]; readonly caption: string };

/**
 * The signatures a verdict lets the page show (review 240). A bundle that failed is not evidence of what the log
 * recorded, so nothing in it is shown as a finding, its signatures neither; one checked under the key it names
 * (`key_not_pinned`) may be anyone's invention, so its signatures are shown as there, never checked: a `verified`
 * beside "Not verified" would be read as the log's word. Only a verified bundle's are checked against the policy.
 */
export const signatureTable = (verdict: BundleReport['verdict'], bundle: unknown, policyText: string): SignatureTable => {
  const policy = policyText.trim() === '' ? undefined : judgeOf(policyText);
  if (policy !== undefined && 'policyError' in policy) return policy;
  if (verdict === 'failed') {
    return { notShown: 'Request signatures are not shown: the bundle failed verification, so its events are not evidence of what the log recorded, nor their signatures of who asked for them.' };
  }
  if (verdict === 'key_not_pinned') {
    const rows = signatureRows(bundle, undefined, 'the bundle is not verified: pin the log key to check it against the signing policy');
    return { rows, caption: "Request signatures (SER-016): not checked, the bundle is not verified (the log's key is not pinned)" };
  }
  if (policy === undefined) {
    return { rows: signatureRows(bundle, undefined, 'paste the signing policy to check it'), caption: 'Request signatures (SER-016): load the signing policy to check them' };
  }
  return { rows: signatureRows(bundle, policy.judge, ''), caption: 'Request signatures (SER-016), checked against the signing policy' };
};

type Judge = ReturnType<typeof storedSignatureJudgement>;

const judgeOf = (policyText: string): { judge: Judge } | { policyError: string } => {
  const read = readNamedJsonText('the signing policy', policyText);
  if (!read.ok) return { policyError: read.message };
  try {
    return { judge: storedSignatureJudgement(parseRequestSigningPolicy(read.value)) };
  } catch (error) {
    return { policyError: `the signing policy is not valid: ${error instanceof Error ? error.message : String(error)}` };
  }
};

/**
 * Each event's request signature (SER-016) re-checked against the deployment's signing policy (public keys only),
 * as the audit trail does; without a policy, only whether each event carries one. Whether the page may show them is
 * signatureTable's to say.
 */
export const checkSignatures = (bundle: unknown, policyText: string): { rows: SignatureRow[] } | { policyError: string } => {
  if (policyText.trim() === '') return { rows: signatureRows(bundle, undefined, 'paste the signing policy to check it') };
  const policy = judgeOf(policyText);
  return 'policyError' in policy ? policy : { rows: signatureRows(bundle, policy.judge, '') };
};

/** The rows, each judged by `judge`; without one, a signature is `signed, not checked`, `unchecked` saying why. */
const signatureRows = (bundle: unknown, judge: Judge | undefined, unchecked: string): SignatureRow[] => {
  const entries = (bundle as { entries?: unknown } | undefined)?.entries;
  if (!Array.isArray(entries)) return [];
  return entries.map((entry: { event?: unknown; withheld?: unknown }): SignatureRow => {
    // A record the bundle carries withheld (bundle.ts) has no signature to show: its place and why, parsed as the
    // verifier parses it.
    const withheld = Withheld.safeParse(entry?.withheld);
    if (entry?.event === undefined && withheld.success) {
      const { position, reason } = withheld.data;
      return { position, type: '(withheld)', actor: '', status: 'withheld', detail: WITHHELD_BECAUSE[reason] };
    }
    const parsed = RecordedEventJson.safeParse(entry?.event);
    if (!parsed.success) return { position: '?', type: '?', actor: '?', status: 'unreadable', detail: parsed.error.issues[0]?.message ?? 'not an event' };
    const event = parsed.data;
    const metadata = event.metadata as { actor?: { id?: string }; signature?: { keyFingerprint?: string } };
    const base = { position: event.position.toString(), type: event.type, actor: metadata.actor?.id ?? '' };
    const decoded = decodeStored(event);
    if (!decoded.ok) return { ...base, status: 'unreadable', detail: decoded.reason };
    if (judge === undefined) {
      return metadata.signature === undefined
        ? { ...base, status: 'unsigned' }
        : { ...base, status: 'signed, not checked', detail: `key ${metadata.signature.keyFingerprint ?? '(no fingerprint)'}: ${unchecked}` };
    }
    try {
      const judged = judge(decoded.value);
      if (judged.status !== 'invalid') return { ...base, status: judged.status };
      return { ...base, status: 'invalid', reason: judged.reason, detail: `${judged.reason}: ${INVALID_BECAUSE[judged.reason]} (key ${metadata.signature?.keyFingerprint ?? '(no fingerprint)'})` };
    } catch (error) {
      // A signature the policy cannot even evaluate (an unknown algorithm, a malformed block) proves nothing.
      return { ...base, status: 'invalid', detail: error instanceof Error ? error.message : String(error) };
    }
  });
};

/** For the demonstration: the same bundle with one recorded fact changed, as an attacker editing the export would. */
export const tamperedCopy = (bundle: unknown): unknown => {
  const copy = JSON.parse(JSON.stringify(bundle)) as { entries?: { event?: { metadata?: Record<string, unknown> } }[] };
  // The first entry that holds its record: a withheld one has none to change.
  const event = copy.entries?.find((entry) => entry?.event !== undefined)?.event;
  if (event?.metadata === undefined) return copy;
  const actor = event.metadata['actor'] as { id?: string } | undefined;
  event.metadata['actor'] = { ...actor, id: `${actor?.id ?? 'someone'}-forged` };
  return copy;
};
