import { z } from 'zod';
import { isCredenceError } from '../../domain/errors.ts';
import { parseRequestSigningPolicy, type RequestSigningPolicyInput } from '../../domain/signing/index.ts';
import { FILE_LIMITS, readJsonFile } from '../files.ts';
import type { Io } from '../io.ts';

/**
 * `--signing FILE`: the deployment's request-signing policy (JSON, the `signing` option of openCredence). The audit
 * trail records `verified` or `invalid` against it; without it, `signed`. Every interface that builds the audit read
 * model must be given the same policy, or two of them would disagree on one checkpoint.
 */
export const SIGNING_OPTION = { signing: { type: 'string' } } as const;
export const SigningArg = z.string().min(1).optional();

/** Reads and parses the policy file; undefined when not given, `false` (after printing why) when unusable. */
export const readSigningPolicy = (file: string | undefined, io: Io): RequestSigningPolicyInput | undefined | false => {
  if (file === undefined) return undefined;
  const raw = readJsonFile(file, FILE_LIMITS.json);
  if (!raw.ok) {
    io.err(`error: --signing: ${raw.message}`);
    return false;
  }
  try {
    return parseRequestSigningPolicy(raw.value);
  } catch (error) {
    if (!isCredenceError(error, 'validation') || error.problem.code !== 'validation') throw error;
    for (const issue of error.problem.issues) io.err(`error: --signing: ${issue.path || '(root)'}: ${issue.message}`);
    return false;
  }
};
