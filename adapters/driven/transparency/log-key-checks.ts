import { existsSync } from 'node:fs';
import type { CheckpointSigner } from '../../../domain/transparency/checkpoint-signer.ts';
import { noteVerifierKey } from '../../../domain/transparency/note.ts';
import { openCheckpoint } from '../../../domain/transparency/verify-result.ts';

/*
 * A log that holds signed checkpoints has one identity, its key: a key made afresh, or another one put in its place,
 * would sign checkpoints over the old history that auditors' pinned key no longer verifies (a fork). Both checks run
 * before anything is written (a key, transparency.pub).
 */

/** Refuses to make a key at `path` (a key file, a Secure Environment handle file) beside a log with checkpoints. */
export const assertNoNewKeyUnderSignedLog = (path: string, signed: string | undefined): void => {
  if (signed === undefined || existsSync(path)) return;
  throw new Error(
    `${path} is missing, but the transparency log beside it holds checkpoints signed with its key: restore it from a backup ` +
      '(a new key would fork the log; to start a new log, move transparency.db aside as well)',
  );
};

/** Refuses a signer that did not sign the log's latest checkpoint `signed`. */
export const assertSignsLog = (signer: CheckpointSigner, signed: string | undefined, what: string): void => {
  if (signed === undefined || openCheckpoint(signed, noteVerifierKey(signer.keyName, signer.publicKey)).ok) return;
  throw new Error(`${what} (${signer.keyName}) did not sign the latest checkpoint of the transparency log beside it: restore the log's own key, or give its origin`);
};
