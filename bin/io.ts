import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { z } from 'zod';

/** Where a command writes; tests pass buffers, the CLI passes stdout/stderr. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
  /**
   * Where long work draws its progress bar: set by the CLI only when stderr is a terminal, so pipes, logs and
   * tests stay clean. Commands also leave it alone with --json.
   */
  readonly progress?: NodeJS.WriteStream;
  /** The environment (CREDENCE_URL, CREDENCE_TOKEN); the process's when absent. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export type CliCommand = (argv: string[], io: Io) => Promise<number>;

/**
 * Parses argv with node:util, then validates with zod. Only `credence demo` still parses this way (the lead
 * reworks it into `npm start`); every other command is a commander command (bin/program.ts).
 */
export const parseCli = <S extends z.ZodTypeAny>(
  argv: string[],
  options: ParseArgsConfig['options'],
  schema: S,
  io: Io,
): z.infer<S> | undefined => {
  let raw: { values: Record<string, unknown>; positionals: string[] };
  try {
    raw = parseArgs({ args: argv, options: options ?? {}, allowPositionals: true, strict: true }) as typeof raw;
  } catch (error) {
    io.err(`error: ${(error as Error).message}`);
    return undefined;
  }
  const parsed = schema.safeParse({ ...raw.values, positionals: raw.positionals });
  if (!parsed.success) {
    for (const issue of parsed.error.issues) io.err(`error: ${issue.path.join('.') || 'arguments'}: ${issue.message}`);
    return undefined;
  }
  return parsed.data;
};

/** JSON for people and scripts: indented, bigints (positions) as decimal strings like the API sends them. */
export const json = (value: unknown): string =>
  JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2);
