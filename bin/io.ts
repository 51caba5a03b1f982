import { printableJson } from './printable.ts';

/** Where a command writes; tests pass buffers, the CLI passes stdout/stderr. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
  /**
   * Where long work draws its progress bar: set by the CLI only when stderr is a terminal, so pipes, logs and
   * tests stay clean. Commands also leave it alone with --json.
   */
  readonly progress?: NodeJS.WriteStream;
  /**
   * Whether stdout is a terminal (the CLI sets it from `process.stdout.isTTY`). Where it is not (a script's pipe, a
   * file), output meant for programs is written as it is (`query --csv`: RFC 4180 as the server sent it); on a
   * terminal, control characters in it are shown escaped. Absent: taken for a terminal, the safe reading.
   */
  readonly stdoutIsTerminal?: boolean;
  /**
   * Aborted once stdout's reader has gone (`credence events … | head -1`): a command that follows until stopped ends on
   * it as on Ctrl-C (standard-output.ts). Absent: the reader never goes (tests, in-process runs).
   */
  readonly stdoutGone?: AbortSignal;
  /** The environment (CREDENCE_URL, CREDENCE_TOKEN, CREDENCE_TIMEOUT, ...); the process's when absent. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Bytes as base64, the form the checkpoint note itself carries its root hash in (C2SP tlog-checkpoint), never as an
 * object of numbered members (found in review 30: `checkpoint.rootHash` printed as {"0":252,"1":139,...}). Read from
 * the holder, not the value: JSON.stringify hands a replacer a Buffer already turned into {type, data} by its toJSON.
 */
function jsonValue(this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Record<string, unknown>)[key];
  if (raw instanceof Uint8Array) return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64');
  return typeof value === 'bigint' ? value.toString() : value;
}

/**
 * JSON for people and scripts: indented, bigints (positions) as decimal strings like the API sends them, bytes as
 * base64, and safe for a terminal (`printableJson`): what it carries came from a server, a store or a file, and it
 * parses to the same.
 */
export const json = (value: unknown): string => printableJson(JSON.stringify(value, jsonValue, 2));
