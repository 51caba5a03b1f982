import type { Stats } from 'node:fs';
import { p256 } from '@noble/curves/nist.js';
import { z } from 'zod';
import { SECRET_KEY_LENGTH, tryFromBase64urlOfLength, wipe } from '../../domain/crypto/index.ts';
import { SignatureAlgorithm } from '../../domain/metadata.ts';
import { assertOwnedByProcess, openToGroupOrOthers } from '../../adapters/driven/files/index.ts';
import { readNamedJsonText } from '../../domain/json-duplicate-names.ts';
import { DEFAULT_JSON_LIMITS } from '../../domain/json-limits.ts';
import { FILE_LIMITS } from '../files.ts';
import { PIPE_WAIT_MS, readSecretOptionFile } from './secret-option-file.ts';
import { UsageError } from '../program.ts';

/**
 * `--sign-key FILE`: the operator's request-signing key (SER-016), a JSON file
 * `{ "algorithm": "ed25519" | "p256-ecdsa-sha256", "secretKey": "<base64url>" }` readable by its owner only. The
 * secret never reaches a message: errors name the file and the field, not the value.
 */
const SignKeyFile = z.strictObject({ algorithm: SignatureAlgorithm, secretKey: z.string().max(128) });

export interface SignKey {
  readonly algorithm: z.infer<typeof SignatureAlgorithm>;
  readonly secretKey: Uint8Array;
}

/**
 * A private key others can read, or that another account owns, is no longer private (the data folder's rules: the
 * owner's refusal is theirs, a `validation` issue naming `sign-key`); judged on the descriptor read.
 */
const signKeyFileRule = (file: string) => (named: string, _file: string, stat: Stats): string | undefined => {
  assertOwnedByProcess(file, stat, 'sign-key', 'request-signing key file');
  return openToGroupOrOthers(stat.mode) ? `${named} is readable by group or others; chmod 600 it` : undefined;
};

/**
 * The key of `file`, read as a `--key` file is (review 295: its folders went unchecked, and it was checked by name and
 * read again by name): secret-option-file.ts, a pipe (`<(…)`) waited for at most PIPE_WAIT_MS.
 */
export const readSignKey = (file: string): SignKey => {
  const read = readSecretOptionFile('--sign-key', file, 'key', { maxBytes: FILE_LIMITS.key, waitMs: PIPE_WAIT_MS, fileRule: signKeyFileRule(file) });
  if (!read.ok) throw new UsageError(read.message);
  const raw = readNamedJsonText(file, read.text, DEFAULT_JSON_LIMITS, {});
  if (!raw.ok) throw new UsageError(`--sign-key: ${raw.message}`);
  const parsed = SignKeyFile.safeParse(raw.value);
  if (!parsed.success) throw new UsageError(parsed.error.issues.map((i) => `--sign-key: ${i.path.join('.') || '(root)'}: ${i.message}`));
  // Both algorithms take a 32-byte scalar.
  const secretKey = tryFromBase64urlOfLength(parsed.data.secretKey, SECRET_KEY_LENGTH);
  if (secretKey === undefined) throw new UsageError(`--sign-key: secretKey: must be ${SECRET_KEY_LENGTH} bytes of base64url`);
  // A P-256 scalar must lie in [1, n - 1]: otherwise signing fails later with the curve library's own words.
  if (parsed.data.algorithm === 'p256-ecdsa-sha256' && !p256.utils.isValidSecretKey(secretKey)) {
    wipe(secretKey);
    throw new UsageError('--sign-key: secretKey: is not a P-256 private key (a scalar from 1 to n - 1)');
  }
  return { algorithm: parsed.data.algorithm, secretKey };
};

/** Overwrites the secret once the request is signed. */
export const forgetSignKey = (key: SignKey): void => wipe(key.secretKey);
