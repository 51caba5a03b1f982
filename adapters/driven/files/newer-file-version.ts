import { validationError, type CredenceError } from '../../../domain/errors.ts';

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
  return validationError([{ path, rule: 'schema_version', message }], what);
};
