import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { z } from 'zod';

/** Where a command writes; tests pass buffers, the CLI passes stdout/stderr. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
}

export type CliCommand = (argv: string[], io: Io) => Promise<number>;

/** Parses argv with node:util, then validates with zod so every bad argument gets a message naming it. */
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

export const json = (value: unknown): string =>
  JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2);
