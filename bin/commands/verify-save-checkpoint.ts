import { existsSync } from 'node:fs';
import { trustedFolderProblem, withTrustedFile, writeFileAtomic } from '../../adapters/driven/files/index.ts';
import { constantTimeEqual } from '../../domain/crypto/index.ts';
import { openCheckpoint, parseCheckpointText, parseSignedNote, type Checkpoint, type NoteVerifierKey } from '../../domain/transparency/index.ts';
import { keyLabel } from '../../domain/transparency/note.ts';
import { FILE_LIMITS, readTrustedTextFile } from '../files.ts';
import type { Io } from '../io.ts';
import { printable } from '../printable.ts';
import { UsageError } from '../program.ts';
import { CannotWrite, refusedWriteOf } from '../write-failure.ts';

/**
 * `--save-checkpoint`: the latest signed checkpoint of a verification that passed (`--data`, or a server's with
 * `--server`), for the next one's `--checkpoint` or `--from` (README, "Offline verification"). Written whole or not at
 * all, replacing the one kept before (the usual file of both options) once keptCheckpointRefusal let it. A store with
 * no event has no checkpoint yet: nothing is written, and that is said.
 */
export const saveCheckpoint = (path: string, note: string | undefined, io: Io): void => {
  if (note === undefined) {
    io.err(printable(`warning: --save-checkpoint: the log has no signed checkpoint yet; ${path} not written`));
    return;
  }
  refuseUntrustedPlace(path);
  try {
    writeFileAtomic(path, note, { mode: 0o644, underUmask: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (refusedWriteOf(error) !== undefined) throw new CannotWrite(path, code!);
    throw new UsageError(`--save-checkpoint: cannot write ${path} (${code ?? 'unwritable'})`);
  }
};

/**
 * Review 194: a checkpoint saved in a folder others may write (`gw` at 0777) was written without a word, and the next
 * run's `--checkpoint` refused it (readSavedCheckpointFile): what was saved could not be used. The folders the file is
 * to be in, on the path as given and on its real path, are held to the rules that read trusts (trusted-file.ts),
 * with its words: a usage error (2), said after the verification (the callers call this first, in
 * keptCheckpointRefusal) and before anything there is read or written.
 */
const refuseUntrustedPlace = (path: string): void => {
  const problem = trustedFolderProblem(path, path);
  if (problem !== undefined) throw new UsageError(`--save-checkpoint: ${problem}`);
};

/** Why the checkpoint kept in the --save-checkpoint file stays: the rule and what to do. */
export interface KeptCheckpointRefusal {
  readonly rule: 'rolled_back' | 'inconsistent' | 'consistency_unproven';
  readonly message: string;
}

/**
 * A checkpoint the file already holds, signed by `key`, is replaced only by the same tree or by one this run proved
 * extends it: `checkedFrom` (the --checkpoint of --data, the --from of --server) is that tree. Review 134: a kept tree
 * of size 82 was replaced by an older copy's 70 (or a rolled-back server's), exit 0, and the next audit held the log
 * to 70 only. A checkpoint signed by other keys only is refused (otherKeysCheckpoint); anything else in the file (none,
 * not a signed checkpoint, one whose signature by this key does not verify) is replaced as before. `from` names the
 * option that proves it, for the message. The file kept, held to the rules `--checkpoint` reads it by (review 194: it
 * was read with none): one others may write, or another account's, is refused (2), not taken as the point to keep.
 */
export const keptCheckpointRefusal = (
  path: string,
  note: string | undefined,
  key: NoteVerifierKey,
  checkedFrom: Checkpoint | undefined,
  from: '--checkpoint' | '--from',
): KeptCheckpointRefusal | undefined => {
  if (note === undefined) return undefined;
  refuseUntrustedPlace(path);
  if (!existsSync(path)) return undefined;
  // Its trust first: what fails it is refused; content that is too large or not UTF-8 is replaced, as before.
  const trusted = withTrustedFile(path, () => undefined);
  if (!trusted.ok) throw new UsageError(`--save-checkpoint: ${trusted.message}`);
  const text = readTrustedTextFile(path, FILE_LIMITS.note);
  if (text.ok) otherKeysCheckpoint(path, text.value, key);
  const kept = text.ok ? openCheckpoint(text.value, key) : undefined;
  const next = openCheckpoint(note, key);
  if (kept === undefined || !kept.ok || !next.ok) return undefined;
  const sameTree = (a: Checkpoint, b: Checkpoint): boolean => a.treeSize === b.treeSize && constantTimeEqual(a.rootHash, b.rootHash);
  if (sameTree(kept.checkpoint, next.checkpoint) || (checkedFrom !== undefined && sameTree(kept.checkpoint, checkedFrom))) return undefined;
  const size = kept.checkpoint.treeSize;
  const verified = next.checkpoint.treeSize;
  const keptNothing = `${path} is kept, nothing written`;
  if (size > verified) {
    return {
      rule: 'rolled_back',
      message: `${path} holds a checkpoint signed by ${key.keyName} of tree size ${size}, larger than the one verified (${verified}): the log was rolled back, or this is an older copy of it; ${keptNothing}`,
    };
  }
  if (size === verified) {
    return {
      rule: 'inconsistent',
      message: `${path} holds a checkpoint signed by ${key.keyName} of tree size ${size} with another root than the one verified: the log forked; ${keptNothing}`,
    };
  }
  return {
    rule: 'consistency_unproven',
    message:
      `${path} holds a checkpoint signed by ${key.keyName} of tree size ${size}, and this run did not check that the tree verified (size ${verified}) extends it: ` +
      `give ${path} as ${from} too, or save to another file; ${keptNothing}`,
  };
};

/**
 * A checkpoint in the file signed by other keys than the one verified against is another log's evidence (the log
 * before a restore started a new one: README, restore step 5, keeps it), not a file to write over (review 190: it was
 * replaced without a word). Refused as a usage error (2): nothing here judges that log, the file is only elsewhere.
 * Its signatures are not verified (the key is not given): they and its tree size are named as the file says them.
 */
const otherKeysCheckpoint = (path: string, note: string, key: NoteVerifierKey): void => {
  const signed = parseSignedNote(note);
  const parsed = signed && parseCheckpointText(signed.text);
  if (parsed?.ok !== true || signed!.signatures.some((s) => s.keyName === key.keyName && s.keyId === key.keyId)) return;
  const signers = [...new Set(signed!.signatures.map(keyLabel))].join(', ');
  throw new UsageError(
    `--save-checkpoint: ${path} holds a checkpoint of tree size ${parsed.checkpoint.treeSize} signed by ${signers}, not by the key verified against (${keyLabel(key)}): ` +
      `another log's evidence, kept (README, restoring: keep the old log's evidence); save to another file, or move it aside first; nothing written`,
  );
};

/** Said on stderr when the kept checkpoint stays: a failure (exit 1), whatever the verification found. */
export const sayKeptCheckpoint = (refusal: KeptCheckpointRefusal, io: Io): void => {
  io.err(printable(`FAILED (${refusal.rule}): --save-checkpoint: ${refusal.message}`));
};
