import { isCredenceError } from '../../domain/errors.ts';
import { parseRequestSigningPolicy, type RequestSigningPolicy } from '../../domain/signing/index.ts';
import { readTrustedJsonFile, type FileRefusal } from './bounded-files.ts';

/** Far above a policy with every key a deployment registers (4,096 keys of about 200 bytes each). */
export const MAX_SIGNING_POLICY_BYTES = 1024 * 1024;

/** What refused a policy: the file's problem (bounded-files' FileRefusal: unreadable, its trust, size, UTF-8, JSON), or `fields`, its own. */
export type SigningPolicyRefusal = FileRefusal | { readonly kind: 'fields' };

/**
 * The configuration rule a refused policy breaks: `readable` when the system would not open or read it, else
 * `signing_policy` (who may write it, its size, its text and JSON, its fields). Both ways a policy is read at start
 * (the configuration's check and the start's own read) name the same rule for one file (review 451).
 */
export const signingPolicyRule = (refusal: SigningPolicyRefusal): 'readable' | 'signing_policy' =>
  refusal.kind === 'unreadable' ? 'readable' : 'signing_policy';

export type SigningPolicyRead =
  | { readonly ok: true; readonly policy: RequestSigningPolicy }
  /** One line per problem: the file's (unreadable, too large, not JSON) or each bad field's, `path: message`. */
  | ({ readonly ok: false; readonly problems: readonly string[] } & SigningPolicyRefusal);

/**
 * A deployment's request-signing policy (SER-016) from a JSON file, for the `signing` option of openCredence: what
 * `credence serve --signing` and the CLI's `--signing` read. Bounded before parsing; an unusable file is a value
 * naming every problem, so each interface reports it its own way (a usage error, a configuration error).
 */
export const readSigningPolicyFile = (file: string): SigningPolicyRead => {
  // Checked (who may write it and its folders) and read through one descriptor: a policy others choose is refused.
  const raw = readTrustedJsonFile(file, MAX_SIGNING_POLICY_BYTES);
  if (!raw.ok) {
    const { ok, message, ...refusal } = raw;
    return { ok, problems: [message], ...refusal };
  }
  try {
    return { ok: true, policy: parseRequestSigningPolicy(raw.value) };
  } catch (error) {
    if (!isCredenceError(error, 'validation') || error.problem.code !== 'validation') throw error;
    return { ok: false, kind: 'fields', problems: error.problem.issues.map((issue) => `${issue.path || '(root)'}: ${issue.message}`) };
  }
};
