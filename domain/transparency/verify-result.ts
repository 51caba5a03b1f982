import type { FieldIssue } from '../errors.ts';
import type { Checkpoint } from './checkpoint.ts';
import { parseCheckpointText } from './checkpoint.ts';
import { noteRefusal, parseVerifierKey, readSignedNote, verifyNote, type NoteVerifierKey } from './note.ts';

/** Why an offline verification failed. Expected outcomes are values, never throws. */
export type VerificationFailure =
  | 'malformed'
  | 'untrusted_key'
  /** Checked with no log key pinned: the key a bundle names is the forger's choice (RFC 9162 4.1: out of band). */
  | 'key_not_pinned'
  | 'bad_checkpoint_signature'
  | 'malformed_checkpoint'
  | 'proof_size_mismatch'
  | 'not_included'
  | 'wrong_stream'
  | 'incomplete_history'
  | 'out_of_order'
  | 'missing_entries'
  | 'root_mismatch'
  | 'origin_mismatch'
  | 'inconsistent'
  | 'rollback'
  | 'malformed_stream_head'
  | 'bad_stream_head_signature'
  | 'stream_head_mismatch'
  | 'completeness_unproven'
  /** Held to a checkpoint the auditor kept, of a smaller tree, with no consistency proof to show it is extended. */
  | 'consistency_unproven';

/** Stream revisions `first` to `last`, both included. */
export interface RevisionRange {
  readonly first: bigint;
  readonly last: bigint;
}

export type VerificationResult<T = object> =
  | ({ readonly ok: true } & T)
  | {
      readonly ok: false;
      readonly reason: VerificationFailure;
      readonly message: string;
      readonly position?: bigint;
      /** With `incomplete_history`: the revisions the signed stream head counts that the bundle does not cover. */
      readonly missing?: readonly RevisionRange[];
      /**
       * With `malformed`: the JSON path and the rule broken (`unknown_member`, the schema's code, or a proof's shape:
       * `leaf_not_in_tree`, `proof_length`). With `malformed_checkpoint` or `malformed_stream_head` of a note that does
       * not parse: the signed-note rule broken (note.ts `NoteRule`), the path the bundle member (empty elsewhere).
       */
      readonly issue?: FieldIssue;
    };

export const fail = (reason: VerificationFailure, message: string, position?: bigint): VerificationResult<never> =>
  position === undefined ? { ok: false, reason, message } : { ok: false, reason, message, position };

/** Input that is not what it claims to be, at `issue.path`: `what` says what it should have been. */
export const malformed = (what: string, issue: FieldIssue, position?: bigint): VerificationResult<never> => ({
  ...fail('malformed', `${what}: ${issue.path}: ${issue.message}`, position),
  issue,
});

/**
 * A note that does not parse (`what`: the checkpoint, the stream head), said with the signed-note rule it breaks
 * (review 217: "is not a well-formed signed note" alone left a CRLF file to guesswork). Its issue has no path: the
 * caller that knows where the note was read names it (a bundle's `checkpoint`, a `--checkpoint` file).
 */
export const malformedNote = (
  reason: 'malformed_checkpoint' | 'malformed_stream_head',
  what: string,
  note: string,
): VerificationResult<never> => {
  const read = readSignedNote(note);
  // Only for a note verifyNote found malformed, which the parser refuses too; said alike should they ever part.
  const why = read.ok ? { rule: 'malformed_note', message: 'not a signed note' } : read;
  return { ...fail(reason, `${what} is not a well-formed signed note: ${why.rule}: ${why.message}`), issue: { path: '', rule: why.rule, message: why.message } };
};

/** The log key as a parsed verifier key or its text form `<name>+<key ID>+base64(0x01 || key)`. */
export type LogPublicKey = NoteVerifierKey | string;

/** A checkpoint is trusted only once its note verifies under the log key (signed-note: text ignored until then). */
export const openCheckpoint = (
  checkpointNote: string,
  logKey: LogPublicKey,
): VerificationResult<{ checkpoint: Checkpoint }> => {
  const logPublicKey = typeof logKey === 'string' ? parseVerifierKey(logKey.trim()) : logKey;
  if (logPublicKey === undefined) return fail('malformed', 'the log public key is not a note verifier key (<name>+<key ID>+<base64>)');
  const opened = verifyNote(checkpointNote, logPublicKey);
  if (!opened.ok) {
    return opened.reason === 'malformed_note'
      ? malformedNote('malformed_checkpoint', 'the checkpoint', checkpointNote)
      : fail('bad_checkpoint_signature', `the checkpoint is not signed by ${logPublicKey.keyName}: ${noteRefusal(checkpointNote, logPublicKey, opened.reason)}`);
  }
  const parsed = parseCheckpointText(opened.text);
  if (!parsed.ok) return fail('malformed_checkpoint', parsed.reason);
  return { ok: true, checkpoint: parsed.checkpoint };
};
