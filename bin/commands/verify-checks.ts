import { existsSync } from 'node:fs';
import { constantTimeEqual } from '../../domain/crypto/index.ts';
import {
  fail,
  type Checkpoint,
  isValidKeyName,
  KEY_NAME_RULE,
  parseVerifierKey,
  verifyEvidenceBundle,
  type NoteVerifierKey,
  type VerificationFailure,
  type VerificationResult,
} from '../../domain/transparency/index.ts';
import { WITHHELD_BECAUSE, type WithheldReason } from '../../domain/transparency/bundle.ts';
import { FILE_LIMITS, readTrustedTextFile } from '../files.ts';
import type { JsonLimits } from '../../domain/json-limits.ts';
import { json, type Io } from '../io.ts';
import { printable } from '../printable.ts';
import type { RequestSigningPolicyInput } from '../../domain/signing/index.ts';
import { judgeBundleSignatures, sayJudgements, signaturesFailure } from './verify-signatures.ts';

/** What `credence verify` checks the same way offline and against a server. */

/** `--key` is the log's verifier key (`<name>+<key ID>+<base64>`) or a file holding it, e.g. transparency.pub. */
export const resolveLogKey = (value: string, io: Io): NoteVerifierKey | undefined => {
  const inline = parseVerifierKey(value.trim());
  if (inline !== undefined) return inline;
  if (existsSync(value)) {
    // Refused when others may write it or its folders, and read through the descriptor checked (bounded-files.ts).
    const text = readTrustedTextFile(value, FILE_LIMITS.key);
    const fromFile = text.ok ? parseVerifierKey(text.value.trim()) : undefined;
    if (fromFile !== undefined) return fromFile;
    io.err(printable(`error: --key: ${text.ok ? `${value} does not hold an Ed25519 note verifier key` : text.message}`));
    return undefined;
  }
  const [name, ...rest] = value.trim().split('+');
  // Shaped as a key whose name is refused (a control character, a space): say which rule, not only "not a key".
  if (rest.length >= 2 && !isValidKeyName(name!)) io.err(`error: --key: the key name ${KEY_NAME_RULE}`);
  else io.err('error: --key: neither a verifier key (<name>+<key ID>+<base64 key>) nor a readable file');
  return undefined;
};

/**
 * The failures that say the input is not what it claims to be: a schema's or a proof's shape (`malformed`), and a
 * checkpoint or stream head that is no signed note or whose text does not parse. A bundle file holding such a note is
 * as malformed as one with a member of the wrong type (review 217: its CRLF checkpoint exited 1); the caller's own
 * checkpoint files (--checkpoint, --from, --to) are refused before this (verify-inputs.ts), exit 2 too.
 */
const MALFORMED: ReadonlySet<VerificationFailure> = new Set<VerificationFailure>(['malformed', 'malformed_checkpoint', 'malformed_stream_head']);

/**
 * Prints the outcome through `printable`: its messages name stream ids, key names and times read from what is being
 * verified (found in review: a forged bundle's stream id erased the FAILED line and wrote an `ok:` in its place).
 * The exit code is 0 verified, 1 failed. Input that is not what it claims to be (`MALFORMED`) is malformed
 * input, like a usage error (2), when the caller gave it as a file; what a server hands out is not the caller's
 * input, so malformed there is a failure like any other (`fromServer`: 1).
 */
export const report = (result: VerificationResult, success: string, io: Io, asJson: boolean, fromServer = false): number => {
  if (asJson) io.out(json(result));
  if (result.ok) {
    if (!asJson) io.out(printable(success));
    return 0;
  }
  io.err(printable(`FAILED (${result.reason})${result.position !== undefined ? ` at position ${result.position}` : ''}: ${result.message}`));
  // The revisions a bundle lacks are named in its message already (review 190: a second line said them again, plural
  // for one); `--json` carries them as `missing`.
  return MALFORMED.has(result.reason) && !fromServer ? 2 : 1;
};

/**
 * The bundle check shared with the server mode: a bundle read from a file or fetched from the API (`fromServer`).
 * `expectedStream`: the stream asked for; a genuine bundle of another stream is a failure (`wrong_stream`).
 */
export const verifyBundle = (
  input: unknown,
  pinned: NoteVerifierKey,
  io: Io,
  asJson: boolean,
  fromServer = false,
  expectedStream?: string,
  saved?: Checkpoint,
  limits?: JsonLimits,
  signing?: RequestSigningPolicyInput,
): number => {
  // Always against the pinned key: the key a bundle names is whoever made it (RFC 9162 4.1: obtained out of band).
  const verified = verifyEvidenceBundle(input, { trustedKey: pinned }, limits);
  const result: typeof verified =
    verified.ok && expectedStream !== undefined && verified.streamId !== expectedStream
      ? fail('wrong_stream', `the bundle is of ${verified.streamId}, not of ${expectedStream}`)
      : verified;
  const held: typeof verified = result.ok && saved !== undefined ? heldTo(saved, result.checkpoint, result) : result;
  const success = held.ok
    ? `ok: ${held.events} ${held.events === 1 ? 'event' : 'events'} of ${held.streamId} are in the log and are the whole stream as of tree size ${held.checkpoint.treeSize} (${held.checkpoint.time})` +
      (saved === undefined ? '' : `, the tree of the checkpoint kept (size ${saved.treeSize}) itself`) +
      withheldNote(held.withheld, held.withheldReasons) +
      // What the bundle proves is where the events stand, not that they are legal (review 237: a forged event refused
      // by replay verified "ok" here, as it must: it is in the log).
      `; this proves what was logged, not that its machine accepts each event: credence history ${held.streamId} replays them with every rule`
    : '';
  // With a signing policy (--signing), a bundle that verified has its request signatures judged too (review 387).
  if (!held.ok || signing === undefined) return report(held, success, io, asJson, fromServer);
  const judged = judgeBundleSignatures(input, signing);
  if (asJson) {
    // ok and reason say the signatures' verdict too (review 390: ok: true beside exit 1 passed a script reading .ok).
    const failure = signaturesFailure(judged);
    io.out(json({ ...held, ...(failure !== undefined ? { ok: false, reason: failure.reason, detail: failure.detail } : {}), signatures: judged }));
    return failure !== undefined ? 1 : 0;
  }
  io.out(printable(success));
  return sayJudgements(judged, io) ? 1 : 0;
};

/** What a bundle carries withheld (domain/transparency/bundle.ts): how many records, and why; the signed head lists them. */
export const withheldNote = (count: number, reasons: readonly WithheldReason[]): string =>
  count === 0
    ? ''
    : `; ${count} of them withheld, as the signed stream head lists them, proved by leaf hash without their record: ${reasons.map((r) => WITHHELD_BECAUSE[r]).join('; ')}`;

/**
 * A bundle held to a checkpoint the auditor kept (`--checkpoint SAVED`), both under the pinned key: its tree must be
 * the saved one or extend it. The same size with another root is a fork. Larger needs a consistency proof from the
 * saved size (RFC 9162 2.1.4), which the bundle format does not carry: the bundle is then not shown to extend it, a
 * failure rather than an `ok` that proved nothing of the saved checkpoint. Smaller is alike: a proof to the saved size
 * tells an older bundle from a log rolled back.
 */
const heldTo = <T extends object>(saved: Checkpoint, bundle: Checkpoint, verified: VerificationResult<T>): VerificationResult<T> => {
  if (bundle.treeSize < saved.treeSize) {
    // A bundle older than the checkpoint kept, or a log rolled back: nothing here tells which (review 372: `rollback`
    // told automation the log was rolled back of a genuine older bundle). The log's proof between the two settles it.
    return fail(
      'consistency_unproven',
      `the bundle's checkpoint signs a tree of size ${bundle.treeSize}, smaller than the checkpoint kept (size ${saved.treeSize}), and a bundle carries no consistency proof: ` +
        `an older bundle, or the log rolled back; save the bundle's checkpoint and check it with credence verify --from IT --to SAVED --proof P ` +
        `(GET /v1/transparency/proofs/consistency?from=${bundle.treeSize}&to=${saved.treeSize})`,
    );
  }
  if (bundle.treeSize === saved.treeSize) {
    return constantTimeEqual(bundle.rootHash, saved.rootHash)
      ? verified
      : fail('inconsistent', `the bundle's checkpoint and the checkpoint kept both sign a tree of size ${saved.treeSize}, with other roots: the log forked`);
  }
  return fail(
    'consistency_unproven',
    `the bundle's tree (size ${bundle.treeSize}) is larger than the checkpoint kept (size ${saved.treeSize}) and a bundle carries no consistency proof: ` +
      `save the bundle's checkpoint and check it with credence verify --from SAVED --to IT --proof P (GET /v1/transparency/proofs/consistency?from=${saved.treeSize}&to=${bundle.treeSize})`,
  );
};
