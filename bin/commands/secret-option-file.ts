import { fstatSync, type Stats } from 'node:fs';
import { readWaitingForPipe, withTrustedFile, type TrustedFileRules } from '../../adapters/driven/files/trusted-file.ts';

/**
 * A file of a secret named by an option (`--token-file`, `--sign-key`): whoever may write it, or put another file in
 * its place, chooses what this command acts as, so it is read as a `--key` file is (review 295: the token file's
 * folders went unchecked, and it was checked by name and read again by name): through withTrustedFile, its folders up
 * to / checked, the descriptor judged by `fileRule` (the secret's own owner and mode rule) and read, never opened again.
 * A pipe (a named FIFO, or `<(…)` of the shell) stays usable, its folders checked too, and is waited for at most
 * `waitMs`: one nothing writes to is refused naming the file, never a command held for good.
 */

/** How long a pipe is waited for when the command has no --timeout of its own. */
export const PIPE_WAIT_MS = 5_000;

/** UTF-8 only, as every text file the CLI reads (bounded-files.ts): a byte that is not is refused, never replaced. */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export type SecretFileRead = { readonly ok: true; readonly text: string; readonly stat: Stats } | { readonly ok: false; readonly message: string };

export const readSecretOptionFile = (
  option: string,
  file: string,
  what: string,
  limits: { readonly maxBytes: number; readonly waitMs: number; readonly fileRule: NonNullable<TrustedFileRules['fileRule']> },
): SecretFileRead => {
  const read = withTrustedFile(file, (fd) => ({ bytes: readWaitingForPipe(fd, limits.maxBytes, limits.waitMs), stat: fstatSync(fd) }), {
    pipe: true,
    fileRule: limits.fileRule,
  });
  if (!read.ok) return { ok: false, message: `${option}: ${read.message}` };
  const { bytes, stat } = read.value;
  if (bytes === undefined) {
    return {
      ok: false,
      message: `${option}: ${file} is a pipe nothing wrote a whole ${what} to within ${limits.waitMs / 1000} s: write it there and close it (as <(cat FILE) does), or name the file itself`,
    };
  }
  if (bytes.length > limits.maxBytes) return { ok: false, message: `${option}: ${file} is larger than ${limits.maxBytes} bytes` };
  try {
    return { ok: true, text: utf8.decode(bytes), stat };
  } catch {
    return { ok: false, message: `${option}: ${file}: invalid_utf8: the file is not valid UTF-8 text (RFC 8259 8.1)` };
  } finally {
    // The secret's bytes are not kept past the decoding.
    bytes.fill(0);
  }
};
