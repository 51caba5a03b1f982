import { closeSync, existsSync, fsyncSync, ftruncateSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { isCredenceError, validationError } from '../../../domain/errors.ts';
import { toBase64url } from '../../../domain/crypto/base64url.ts';
import type { RandomSource } from '../../../domain/ports/random.ts';
import { fsyncFolder, writeFileAtomic } from '../files/index.ts';
import { readKekFile } from './kek.ts';
import { KEK_MATCHES_DATABASE, KeyVault } from './key-vault.ts';

/**
 * `credence kek rotate` (review 127): every wrapping key and the KEK check value re-sealed under a new KEK, and the KEK
 * file replaced, so a leaked copy of the old KEK opens nothing this folder holds from then on. Three steps, each
 * durable before the next, so a crash anywhere leaves a folder one of the two KEKs on disk opens:
 * 1. the new KEK written beside the KEK as `<kek>.next` (temp, fsync, link, fsync of the folder);
 * 2. the re-seal committed, in one transaction of both files (key-vault.ts resealUnder);
 * 3. `<kek>.next` renamed over the KEK, the folder fsynced: the old KEK's bytes are no longer in any file.
 * Crashed after 1, the KEK still opens the keys and `<kek>.next` sealed nothing: the next rotation removes it.
 * Crashed after 2, the KEK no longer opens the check value and `<kek>.next` does: the next opening (openVault) uses it
 * and finishes step 3. A side file rather than a second KEK kept in the database: the KEK never leaves a file of its own.
 */
export const nextKekFileOf = (kekPath: string): string => `${kekPath}.next`;

/** Step 1: the new KEK durable beside the KEK; exclusive, so a side file left by a crash is never overwritten unseen. */
export const writeNextKek = (kekPath: string, next: Uint8Array): void => {
  writeFileAtomic(nextKekFileOf(kekPath), `${toBase64url(next)}\n`, { mode: 0o600, exclusive: true });
};

/**
 * Step 3: `<kek>.next` renamed over the KEK and the folder fsynced. A side file already gone was renamed by another
 * opening of the folder that found the re-seal committed (openVault): the KEK file holds the new KEK already.
 */
export const finishKekRotation = (kekPath: string): void => {
  try {
    renameSync(nextKekFileOf(kekPath), kekPath);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return fsyncFolder(dirname(kekPath));
    // A KEK file that cannot be renamed over (one bind-mounted into its folder: EBUSY, review 128) is written in
    // place; until then only `<kek>.next` opens the keys, so a failure says how to finish by hand.
    writeNextKekInPlace(kekPath, code);
  }
  fsyncFolder(dirname(kekPath));
};

/**
 * The next KEK's bytes written over the KEK file's own (one short write of the same length, fsynced), then the side
 * file removed: a crash before the fsync leaves `<kek>.next`, which the next opening finishes with again.
 */
const writeNextKekInPlace = (kekPath: string, renameCode: string | undefined): void => {
  const next = nextKekFileOf(kekPath);
  try {
    const bytes = readFileSync(next);
    const fd = openSync(kekPath, 'r+');
    try {
      writeSync(fd, bytes, 0, bytes.length, 0);
      ftruncateSync(fd, bytes.length);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
      bytes.fill(0);
    }
    unlinkSync(next);
  } catch (error) {
    throw validationError(
      [{ path: 'kek', rule: 'kek_replaced', message: kekNotReplaced(kekPath, `rename: ${renameCode ?? 'failed'}; in place: ${(error as NodeJS.ErrnoException).code ?? 'failed'}`) }],
      'KEK rotation',
    );
  }
};

/** What a rotation that could not replace the KEK file says, at its refusal and at every opening after it. */
const kekNotReplaced = (kekPath: string, why: string): string => {
  const next = nextKekFileOf(kekPath);
  return (
    `the keys are sealed under the new KEK in ${next}, but it could not replace ${kekPath} (${why}): copy ${next} over ${kekPath} ` +
    `(mode 0600), then remove ${next}; never delete it before: no other KEK opens the keys`
  );
};

/** Why finishKekRotation failed, in its own words (kek_replaced) or as the file system's code (the folder's fsync). */
const notReplacedWarning = (kekPath: string, error: unknown): string => {
  if (isCredenceError(error) && error.problem.code === 'validation') {
    const issue = error.problem.issues.find((i) => i.rule === 'kek_replaced');
    if (issue !== undefined) return issue.message;
  }
  return kekNotReplaced(kekPath, (error as NodeJS.ErrnoException).code ?? 'failed');
};

const isKekMismatch = (error: unknown): boolean =>
  isCredenceError(error) && error.problem.code === 'validation' && error.problem.issues.some((issue) => issue.rule === KEK_MATCHES_DATABASE);

/**
 * The vault under `kek` (read from `kekPath`), or, when that KEK no longer opens the check value and `<kek>.next` does,
 * under the next KEK, step 3 then finished (a rotation crashed between its commit and its rename). A side file the
 * KEK's opening leaves is one of a rotation that never committed: harmless, left for the next rotation to remove
 * (removing it here could race a rotation in progress). Takes ownership of `kek`, as KeyVault.open does.
 */
export const openVaultAfterRotation = (
  database: string,
  wrappingKeys: string,
  kekPath: string,
  kek: Uint8Array,
  random: RandomSource,
  kekMismatch: string,
): { vault: KeyVault; warning?: string } => {
  try {
    return { vault: KeyVault.open(database, wrappingKeys, kek, random, kekMismatch) };
  } catch (error) {
    // Only then is a side file read: one that sealed nothing (or that a crash damaged) never stops the KEK opening.
    if (!isKekMismatch(error) || !existsSync(nextKekFileOf(kekPath))) throw error;
  }
  const next = readKekFile(nextKekFileOf(kekPath));
  // KeyVault.open owns `next` from here (wiped on its refusal): a mismatch again means neither KEK opens the keys.
  const vault = KeyVault.open(database, wrappingKeys, next, random, kekMismatch);
  try {
    finishKekRotation(kekPath);
    return { vault };
  } catch (error) {
    // The KEK file cannot take it (read-only, say): the keys open under `<kek>.next`, which stays, and every opening
    // does so again (review 129: refusing here kept the service from starting at all). Said at each opening, as the
    // rotation's refusal said it: until the copy is made, the KEK file the operator backs up opens nothing.
    return { vault, warning: notReplacedWarning(kekPath, error) };
  }
};

/** Removes a side file that sealed nothing (a rotation that never committed), durably. */
export const removeNextKek = (kekPath: string): void => {
  try {
    unlinkSync(nextKekFileOf(kekPath));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  fsyncFolder(dirname(kekPath));
};
