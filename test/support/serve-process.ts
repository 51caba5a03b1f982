import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

const CREDENCE = fileURLToPath(new URL('../../bin/credence.mjs', import.meta.url));
const READY_WITHIN_MS = 45_000;
const STOP_WITHIN_MS = 20_000;

export interface ServeProcess {
  readonly child: ChildProcessByStdio<null, Readable, Readable>;
  /** Everything written to stderr (where serve reports) and stdout so far. */
  readonly err: string;
  readonly out: string;
  /** The first match of `ready` in stderr; rejects, with stderr, when serve ends first or after 45 s. */
  readonly ready: Promise<RegExpExecArray>;
  /** The exit code once stopped: SIGKILL if it has not exited 20 s after this is called (SIGTERM is the test's). */
  exitCode(): Promise<number | null>;
}

/** `credence serve <args>` as a child process, as an operator runs it (the environment: this one's plus `env`). */
export const startServe = (args: readonly string[], env: Readonly<Record<string, string>>, ready: RegExp): ServeProcess => {
  const child = spawn(process.execPath, [CREDENCE, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let err = '';
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const readyMatch = new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL within 45 s: ${err}`)), READY_WITHIN_MS);
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      const found = ready.exec(err);
      if (found !== null) {
        clearTimeout(timer);
        resolve(found);
      }
    });
    child.on('exit', () => {
      clearTimeout(timer);
      reject(new Error(`serve ended early: ${err}`));
    });
  });
  return {
    child,
    get err() {
      return err;
    },
    get out() {
      return out;
    },
    ready: readyMatch,
    exitCode: async () => {
      const timeout = setTimeout(() => child.kill('SIGKILL'), STOP_WITHIN_MS);
      try {
        return await exited;
      } finally {
        clearTimeout(timeout);
      }
    },
  };
};
