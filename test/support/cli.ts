import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
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

const CREDENCE = fileURLToPath(new URL('../../bin/credence.mjs', import.meta.url));

/**
 * `node bin/credence.mjs <args>` as a child process, with this process's environment and `env` on top: its exit code
 * and all it printed, stdout and stderr apart (for what only a real process shows: everything a library prints itself).
 */
export const spawnCli = (args: readonly string[], env: Readonly<Record<string, string>> = {}) =>
  new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    execFile(process.execPath, [CREDENCE, ...args], { env: { ...process.env, ...env }, timeout: 50_000 }, (error, out, err) =>
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, out, err }),
    );
  });
