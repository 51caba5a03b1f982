import { accessSync, constants, existsSync, lstatSync } from 'node:fs';
import { dirname, isAbsolute, sep } from 'node:path';
import { z } from 'zod';
import { validationError } from '../../domain/errors.ts';
import type { CheckpointWitness } from '../../domain/ports/index.ts';
import { trustedFolderProblem, writeFileAtomic } from '../driven/files/index.ts';
import { readTrustedTextFile } from './bounded-files.ts';
import { resolvedAsFarAsItExists } from './resolved-path.ts';

/** The setting's name wherever a refusal names it: the service's field, `OpenOptions.checkpointWitness`. */
export const CHECKPOINT_WITNESS_FIELD = 'checkpointWitness';

/** A checkpoint note is a few hundred bytes; anything much larger is not one. */
export const MAX_WITNESS_BYTES = 8 * 1024;

const MAX_PATH_CHARS = 4_096;

/** Absolute: a relative path would name another file from each working directory, and another file holds the log to nothing. */
export const CheckpointWitnessPath = z
  .string()
  .min(1)
  .max(MAX_PATH_CHARS, `must be at most ${MAX_PATH_CHARS} characters`)
  .refine((path) => isAbsolute(path), 'must be an absolute path')
  // Every control character, as every other path setting refuses them (adapters/http/config-values.ts, withoutControls):
  // review 373 item 4 found ESC and C1 controls taken here, which a refusal or a log line then wrote to a terminal.
  .refine((path) => !/[\u0000-\u001f\u007f-\u009f]/.test(path), 'must not hold control characters (NUL, a line break, an escape)');

const refusal = (rule: string, message: string) => validationError([{ path: CHECKPOINT_WITNESS_FIELD, rule, message }], 'checkpoint witness');

/**
 * Checked at every start, before anything opens, so that a setting the witness cannot work under is a refusal now and
 * not an outage at a later start (review 105): outside the data folder, links resolved (whoever may rewrite the log
 * there may rewrite a copy kept beside it); its folder there, this account's or root's and not writable by group or
 * others, up to / (the rules it is read by, trusted-file.ts: otherwise another account deletes the copy and the
 * start after takes the log as it finds it); and writable by this process.
 */
export const assertWitnessUsable = (path: string, dir: string): void => {
  const witness = resolvedAsFarAsItExists(path);
  const folder = resolvedAsFarAsItExists(dir);
  if (witness === folder || witness.startsWith(`${folder}${sep}`)) {
    throw refusal(
      'witness_outside_folder',
      `${path} is inside the data folder ${dir}: whoever may rewrite the log there may rewrite the copy too; name a file in a folder only the service's account may write, outside the data folder`,
    );
  }
  // The copy is replaced by a rename: a link there would become a file beside the link's folder's rules, in the data
  // folder should the link have led out of it (review 108).
  if (lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink() === true) throw refusal('file', `${path} is a link: name the file itself`);
  const problem = trustedFolderProblem(path, path);
  if (problem !== undefined) throw refusal('trusted_file', problem);
  try {
    accessSync(dirname(witness), constants.W_OK);
  } catch (error) {
    throw refusal('writable', `${path} cannot be written: its folder ${dirname(witness)} is not writable by this account (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
};

/**
 * The checkpoint witness as a file (CheckpointWitness): the latest checkpoint note, whole (as `credence verify
 * --save-checkpoint` writes one, so an auditor may pass it to `--checkpoint`). Read as a file that decides what is
 * trusted (trusted-file.ts: it and the folders above it not writable by group or others, nor another account's), and
 * replaced atomically, synced before the rename and the folder after it: a power loss leaves the old copy or the new
 * one, never a torn one, nor an older one once `keep` returned.
 */
export const checkpointWitnessFile = (path: string): CheckpointWitness => {
  const parsed = CheckpointWitnessPath.safeParse(path);
  if (!parsed.success) throw refusal('path', parsed.error.issues.map((i) => i.message).join('; '));
  return {
    where: path,
    read() {
      if (!existsSync(path)) return undefined;
      const read = readTrustedTextFile(path, MAX_WITNESS_BYTES);
      if (!read.ok) throw refusal('trusted_file', read.message);
      // An empty file is one made ahead of the first start (`install -m 644 /dev/null FILE`): nothing kept yet.
      return read.value === '' ? undefined : read.value;
    },
    keep(note) {
      const found = lstatSync(path, { throwIfNoEntry: false });
      if (found !== undefined && !found.isFile()) throw refusal('file', `${path} is not a regular file (a link, a folder): name the file itself`);
      try {
        writeFileAtomic(path, note, { mode: 0o644 });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? 'unwritable';
        throw refusal('writable', `cannot write ${path} (${code}): the service keeps its latest checkpoint there; make the folder, writable by the service's account only`);
      }
    },
  };
};

/** What a start (the service's, an export's) says when the witness held nothing over a log that is not new. */
export const witnessBegunWarning = (leaves: number): string =>
  `the checkpoint witness held no checkpoint while the log holds ${leaves} leaves: it keeps the log's checkpoints from now on. ` +
  'If it kept one before, it was deleted or emptied: audit the log against a checkpoint kept elsewhere (credence verify --data DIR --checkpoint SAVED)';
