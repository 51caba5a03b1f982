import { readSigningPolicyFile } from '../../adapters/runtime/signing-policy-file.ts';
import type { RequestSigningPolicyInput } from '../../domain/signing/index.ts';
import type { Io } from '../io.ts';
import { printable } from '../printable.ts';
import { UsageError } from '../program.ts';
import { PathArg } from './options.ts';

/**
 * `--signing FILE`: the deployment's request-signing policy (JSON, the `signing` option of openCredence). The audit
 * trail records `verified` or `invalid` against it; without it, `signed`. Every interface that builds the audit read
 * model must be given the same policy, or two of them would disagree on one checkpoint.
 */
export const SigningArg = PathArg.optional();

/** Reads and parses the policy file; undefined when not given, `false` (after printing why) when unusable. */
export const readSigningPolicy = (file: string | undefined, io: Io): RequestSigningPolicyInput | undefined | false => {
  if (file === undefined) return undefined;
  const read = readSigningPolicyFile(file);
  if (read.ok) return read.policy;
  // A problem quotes the file's own keys and values (`Unrecognized key: "…"`): found in review, a key holding ESC and
  // OSC sequences reached the terminal as it was, and could retitle the window or overwrite the line with an `ok:`.
  for (const problem of read.problems) io.err(`error: --signing: ${printable(problem)}`);
  return false;
};

/** readSigningPolicy for a command action: an unusable policy (already explained) is bad usage, exit 2. */
export const signingPolicyOption = (file: string | undefined, io: Io): RequestSigningPolicyInput | undefined => {
  const policy = readSigningPolicy(file, io);
  if (policy === false) throw new UsageError([]);
  return policy;
};
