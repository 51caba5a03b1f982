import { isCredenceError, validationError, type CredenceError } from '../../../domain/errors.ts';

/** The rule of every refusal of a data file a newer version wrote. */
const NEWER_FILE_RULE = 'schema_version';

/**
 * A data file a newer version of Credence wrote, refused before anything in it is read or written: only the version
 * that wrote it knows its layout, and migrating it here would undo what that version did. One wording for every file
 * (events.db, keys.db, access.db, transparency.db, a CA file) so that the operator is told the file, the versions and
 * what to do, wherever it was met (review 119: only events.db said more than "newer than 2").
 *
 * `path`: the file, or what it is where it has none (an in-memory database); `what`: what the file holds.
 */
export const newerFileVersion = (
  path: string,
  what: string,
  found: number,
  supported: number,
  advice = 'open it with that version',
): CredenceError => {
  const message = `${what} file has schema version ${found}, newer than this build supports (${supported}): a newer version of Credence wrote it; ${advice}`;
  return validationError([{ path, rule: NEWER_FILE_RULE, message }], what);
};

/**
 * Whether `error` is newerFileVersion's refusal: no mistake in what was typed but a file this build may not read,
 * which a command refuses (exit 1) however it treats its other `validation` errors (bin/program.ts).
 */
export const isNewerFileRefusal = (error: unknown): boolean =>
  isCredenceError(error, 'validation') && error.problem.code === 'validation' && error.problem.issues.some((issue) => issue.rule === NEWER_FILE_RULE);

/**
 * Refuses a data file (its parsed JSON, `value`) whose `version` is an integer above `supported`, with
 * newerFileVersion. Called before the file's schema: a newer layout is no malformed file of this one ("version:
 * expected 1", or "is not the CRL number file of CA ..."), which reads as damage and invites a repair by hand or a
 * deletion (review 123). A file of this version, malformed or not, is left to the schema and its own error.
 */
export const refuseNewerFileVersion = (value: unknown, path: string, what: string, supported: number): void => {
  const version = typeof value === 'object' && value !== null ? (value as { version?: unknown }).version : undefined;
  if (typeof version === 'number' && Number.isSafeInteger(version) && version > supported) {
    throw newerFileVersion(path, what, version, supported);
  }
};
