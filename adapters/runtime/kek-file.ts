import { statSync, type Stats } from 'node:fs';
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { validationError } from '../../domain/errors.ts';
import { secureEnvironmentConfigForDataDir } from '../driven/secure-environment/index.ts';
import { MAX_PATH_CHARS } from '../driven/secure-environment/kek.ts';

/**
 * CREDENCE_KEK_FILE: the KEK of the data folder's embedded Secure Environment kept outside the folder (review 47
 * item 4), so a copy of the folder (a backup, a folder reader) holds sealed keys but not what opens them. The file is
 * made (0600) on first use like the in-folder one, and held to the same rules: refused when group or others may read
 * it or another account owns it. Read where the service and the CLI open the folder's Secure Environment.
 */
export const KEK_FILE_ENVIRONMENT_VARIABLE = 'CREDENCE_KEK_FILE';

// Absolute: a relative path would name another file from each working directory, and a wrong KEK opens no key.
const KekFile = z
  .string()
  .max(MAX_PATH_CHARS, `must be at most ${MAX_PATH_CHARS} characters`)
  .refine((path) => isAbsolute(path), 'must be an absolute path')
  .refine((path) => !/[\0\n\r]/.test(path), 'must not hold NUL or line breaks');

const refusal = (rule: string, message: string) =>
  validationError([{ path: `env ${KEK_FILE_ENVIRONMENT_VARIABLE}`, rule, message }], 'Secure Environment configuration');

/** The KEK file CREDENCE_KEK_FILE names in `env`, parsed; undefined when it is unset or empty (the in-folder KEK). */
export const kekFileOf = (env: Readonly<Record<string, string | undefined>>): string | undefined => {
  const value = env[KEK_FILE_ENVIRONMENT_VARIABLE];
  if (value === undefined || value === '') return undefined;
  const parsed = KekFile.safeParse(value);
  if (!parsed.success) throw refusal('kek_file', parsed.error.issues.map((i) => i.message).join('; '));
  return parsed.data;
};

const sameFile = (a: Stats | undefined, b: Stats | undefined): boolean =>
  a !== undefined && b !== undefined && a.dev === b.dev && a.ino === b.ino;

/**
 * With a KEK named outside the folder, a KEK still in the folder is refused, before anything is opened or made: a
 * different one means two KEKs and one of them does not open the keys; the same bytes left behind means the folder
 * still holds what the setting was meant to take out of it. The way out is to finish the move (docs/service.md).
 */
export const assertNoKekLeftInFolder = (dir: string, kekFile: string): void => {
  const inFolder = secureEnvironmentConfigForDataDir(dir).kek;
  if (inFolder.source !== 'file') return;
  const left = statSync(inFolder.path, { throwIfNoEntry: false });
  if (left === undefined || sameFile(left, statSync(kekFile, { throwIfNoEntry: false }))) return;
  throw refusal(
    'kek_in_folder',
    `names ${kekFile}, but the data folder still holds a KEK, ${inFolder.path}: to move it out, stop the service, move that file to ${kekFile} (mode 0600, owned by the account Credence runs as) and start again; to keep it in the folder, unset ${KEK_FILE_ENVIRONMENT_VARIABLE}`,
  );
};
