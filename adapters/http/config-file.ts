import { statSync } from 'node:fs';
import { isCredenceError, validationError } from '../../domain/errors.ts';
import { duplicateNameIssue } from '../../domain/json-duplicate-names.ts';
import { assertJsonWithin } from '../../domain/json-limits.ts';
import { readTrustedTextFileOrPipe } from '../runtime/bounded-files.ts';

const MAX_CONFIG_FILE_BYTES = 64 * 1024;

/** How long a config file given as a pipe (`--config <(envsubst …)`) is waited for, as a token file's is. */
export const CONFIG_PIPE_WAIT_MS = 5_000;

/** What a system error code means for a file named to be read; the code itself for any other. */
const REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'it does not exist',
  EISDIR: 'it is a folder',
  ENOTDIR: 'a part of its path is not a folder',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'its name is too long',
};

/**
 * Why the file could not be read, from bounded-files' message (`cannot read <path>: <code>`, or its UTF-8 refusal).
 * Review 298 item 4: "cannot be read" alone left the operator to find out whether it was missing, a folder or private.
 */
const whyUnreadable = (message: string): string => {
  if (message.includes('invalid_utf8')) return 'it is not valid UTF-8 text (RFC 8259 8.1)';
  const code = /: ([A-Z][A-Z0-9_]*)$/.exec(message)?.[1];
  if (code === undefined) return 'the system gave no reason';
  return REASONS[code] === undefined ? code : `${REASONS[code]} (${code})`;
};

const isFolder = (file: string): boolean => {
  try {
    return statSync(file, { throwIfNoEntry: false })?.isDirectory() === true;
  } catch {
    return false; // the reader says why (EACCES, ELOOP, …)
  }
};

/** Why the trusted-file reader refused `file`: the file's own problem (`readable`), or the rule it breaks (`trusted_file`). */
const refusalOf = (file: string, message: string): { rule: string; message: string } =>
  message.startsWith(`cannot read ${file}: `) || message.startsWith(`${file}: invalid_utf8: `)
    ? { rule: 'readable', message: `cannot be read: ${whyUnreadable(message)}` }
    : { rule: 'trusted_file', message };

/**
 * The configuration file decides what the service trusts (review 324 item 1: whoever may write it drops `signing`,
 * or points the PKCS#11 module-path at a library of theirs), so it is read as every such file is (trusted-file.ts):
 * a regular file, it and the folders above it this account's or root's and not writable by group or others, read
 * through the descriptor that was checked and bounded while read. A pipe (`--config <(envsubst < credence.json)`) is
 * read too, as the reader before did on purpose (review 333), held to who may write it and its folders as a file is,
 * and waited for at most `pipeWaitMs`.
 */
export const readConfigFile = (file: string, pipeWaitMs: number = CONFIG_PIPE_WAIT_MS): unknown => {
  const where = `file ${file}`;
  // Said as before (review 298 item 4), ahead of the trusted-file rule's "name the file itself".
  if (isFolder(file)) {
    throw validationError([{ path: where, rule: 'readable', message: `cannot be read: ${REASONS['EISDIR']} (EISDIR)` }], 'service configuration');
  }
  const read = readTrustedTextFileOrPipe(file, MAX_CONFIG_FILE_BYTES, pipeWaitMs);
  if (!read.ok) {
    const issue = read.tooLarge === true
      ? { rule: 'max_bytes', message: `larger than ${MAX_CONFIG_FILE_BYTES} bytes` }
      : read.unwritten === true
        ? { rule: 'readable', message: `is a pipe nothing wrote a whole file to within ${pipeWaitMs / 1000} s: write it there and close it (as <(cat FILE) does), or name the file itself` }
        : refusalOf(file, read.message);
    throw validationError([{ path: where, ...issue }], 'service configuration');
  }
  const text = read.value;
  // Refused, not skipped: no other JSON file Credence reads takes one (bounded-files.ts keeps it for the parser to
  // judge), and JSON.parse's "not valid JSON" did not say why.
  if (text.startsWith('\uFEFF')) {
    throw validationError([{ path: where, rule: 'byte_order_mark', message: 'starts with a byte-order mark (U+FEFF), which JSON does not allow: save it as UTF-8 without one' }], 'service configuration');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw validationError([{ path: where, rule: 'json', message: 'is not valid JSON' }], 'service configuration');
  }
  try {
    assertJsonWithin(value, 'service configuration file');
  } catch (error) {
    // Named like every other refusal of the file: `file X: a.b.c: nested deeper than …`.
    if (!isCredenceError(error, 'validation') || error.problem.code !== 'validation') throw error;
    throw validationError(error.problem.issues.map((i) => ({ ...i, path: `${where}: ${i.path || '(root)'}` })), 'service configuration');
  }
  const duplicate = duplicateNameIssue(text);
  if (duplicate !== undefined) throw validationError([{ ...duplicate, path: `${where}: ${duplicate.path}` }], 'service configuration');
  return value;
};
