import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { RequestSigningPolicy, type RequestSigningPolicyInput } from '../../domain/signing/index.ts';
import type { Io } from '../io.ts';

/**
 * `--signing FILE`: the deployment's request-signing policy (JSON, the `signing` option of openCredence). The audit
 * trail records `verified` or `invalid` against it; without it, `signed`. Every interface that builds the audit read
 * model must be given the same policy, or two of them would disagree on one checkpoint.
 */
export const SIGNING_OPTION = { signing: { type: 'string' } } as const;
export const SigningArg = z.string().min(1).optional();

const MAX_POLICY_BYTES = 1024 * 1024;

/** Reads and parses the policy file; undefined when not given, `false` (after printing why) when unusable. */
export const readSigningPolicy = (file: string | undefined, io: Io): RequestSigningPolicyInput | undefined | false => {
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    io.err(`error: --signing: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`);
    return false;
  }
  if (text.length > MAX_POLICY_BYTES) {
    io.err(`error: --signing: ${file} is larger than ${MAX_POLICY_BYTES} bytes`);
    return false;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    io.err(`error: --signing: ${file} is not JSON`);
    return false;
  }
  const parsed = RequestSigningPolicy.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) io.err(`error: --signing: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    return false;
  }
  return parsed.data;
};
