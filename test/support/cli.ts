import type { Io } from '../../bin/io.ts';

/** An Io that keeps what a CLI command prints, for assertions on its output. */
export const capture = (): { io: Io; out: string[]; err: string[] } => {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (line) => out.push(line), err: (line) => err.push(line) }, out, err };
};

/** `credence <args>` run in this process with an empty environment: its exit code and what it printed. */
export const runCli = async (args: string[], env: Readonly<Record<string, string>> = {}): Promise<{ code: number; out: string; err: string }> => {
  // Loaded on first use: the many tests that only `capture` one command's output need not load the whole CLI.
  const { main } = await import('../../bin/cli.ts');
  const c = capture();
  const code = await main(args, { ...c.io, env });
  return { code, out: c.out.join('\n'), err: c.err.join('\n') };
};
