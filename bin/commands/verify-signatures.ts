import { decodeStored } from '../../domain/stored.ts';
import { storedSignatureJudgement, type InvalidSignatureReason, type RequestSigningPolicyInput } from '../../domain/signing/index.ts';
import { RecordedEventJson } from '../../domain/transparency/index.ts';
import type { Io } from '../io.ts';
import { printable } from '../printable.ts';
import { INVALID_BECAUSE } from '../../domain/signing/invalid-because.ts';

/**
 * `credence verify FILE.json --signing FILE` (review 387): each event's request signature (SER-016) judged against the
 * deployment's signing policy as the console's evidence page and the audit trail judge it (storedSignatureJudgement),
 * offline, from the public keys the policy holds. Only a bundle that verified is judged: a failed one is no evidence of
 * what the log recorded, nor its signatures of who asked (the console says the same).
 */
export interface SignatureJudged {
  readonly position: string;
  readonly type: string;
  readonly actor: string;
  readonly status: 'unsigned' | 'verified' | 'invalid' | 'unreadable';
  /** Why it is `invalid`: the verifier's word, as the timeline's `signature.reason` and the console give it. */
  readonly reason?: InvalidSignatureReason;
  readonly detail?: string;
}

/** The events the bundle holds (a withheld entry has no record, hence no signature), each judged under `policy`. */
export const judgeBundleSignatures = (bundle: unknown, policy: RequestSigningPolicyInput): SignatureJudged[] => {
  const judge = storedSignatureJudgement(policy);
  const entries = (bundle as { entries?: unknown } | undefined)?.entries;
  if (!Array.isArray(entries)) return [];
  return entries
    .filter((entry: { event?: unknown }) => entry?.event !== undefined)
    .map((entry: { event?: unknown }): SignatureJudged => {
      const parsed = RecordedEventJson.safeParse(entry.event);
      if (!parsed.success) return { position: '?', type: '?', actor: '?', status: 'unreadable', detail: parsed.error.issues[0]?.message ?? 'not an event' };
      const event = parsed.data;
      const actor = (event.metadata as { actor?: { id?: unknown } }).actor?.id;
      const base = { position: event.position.toString(), type: event.type, actor: typeof actor === 'string' ? actor : '' };
      const decoded = decodeStored(event);
      if (!decoded.ok) return { ...base, status: 'unreadable', detail: decoded.reason };
      try {
        const judged = judge(decoded.value);
        return judged.status === 'invalid' ? { ...base, status: 'invalid', reason: judged.reason, detail: INVALID_BECAUSE[judged.reason] } : { ...base, status: judged.status };
      } catch (error) {
        // A signature the policy cannot even evaluate proves nothing (the console's rule).
        return { ...base, status: 'invalid', detail: error instanceof Error ? error.message : String(error) };
      }
    });
};

/** One line for the judgements, one per event not `verified`; true when one is `invalid` (the verification fails). */
export const sayJudgements = (judged: readonly SignatureJudged[], io: Io): boolean => {
  const count = (status: SignatureJudged['status']) => judged.filter((j) => j.status === status).length;
  const invalid = count('invalid');
  io.out(
    `request signatures (SER-016), checked against the signing policy: ${count('verified')} verified, ${count('unsigned')} unsigned` +
      `${invalid > 0 ? `, ${invalid} invalid` : ''}${count('unreadable') > 0 ? `, ${count('unreadable')} unreadable` : ''}`,
  );
  for (const j of judged) {
    if (j.status === 'verified') continue;
    const why = j.status === 'invalid' ? ` (${j.reason ?? 'unevaluable'})${j.detail !== undefined ? `: ${j.detail}` : ''}` : j.detail !== undefined ? `: ${j.detail}` : '';
    // Positions, types and actor ids are read from the bundle: printable, as every line of verify (review 30).
    io.out(printable(`  position ${j.position} ${j.type} (${j.actor || 'no actor'}): ${j.status}${why}`));
  }
  const failure = signaturesFailure(judged);
  if (failure !== undefined) io.err(`FAILED (${failure.reason}): ${failure.detail}`);
  return failure !== undefined;
};

/**
 * Why the signatures fail a verification, if they do: one invalid, or one this build could not judge (an event it
 * cannot read, of a newer version: review 390, it passed unjudged); undefined when every one is verified or unsigned.
 */
export const signaturesFailure = (judged: readonly SignatureJudged[]): { readonly reason: 'signature_invalid' | 'signature_unjudged'; readonly detail: string } | undefined => {
  const invalid = judged.filter((j) => j.status === 'invalid').length;
  if (invalid > 0) return { reason: 'signature_invalid', detail: `${invalid} of ${judged.length} request ${judged.length === 1 ? 'signature is' : 'signatures are'} invalid under the signing policy` };
  const unreadable = judged.filter((j) => j.status === 'unreadable').length;
  if (unreadable > 0) return { reason: 'signature_unjudged', detail: `${unreadable} of ${judged.length} events could not be read by this version, so their request signatures were not judged: verify with a Credence as new as the bundle` };
  return undefined;
};
