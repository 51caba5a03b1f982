import { readFileSync, readlinkSync, realpathSync } from 'node:fs';

/** How often `start` looks whether the process that ran it is still there. */
const PARENT_CHECK_MS = 500;

/** The parent bin/credence.mjs saw at launch; this process's parent now when it was not run through it (a test). */
const launchParent = (): number => {
  const recorded = (globalThis as Record<symbol, unknown>)[Symbol.for('credence.launchParent')];
  return typeof recorded === 'number' ? recorded : process.ppid;
};

/** What reading `/proc/<pid>/<entry>` gave, or undefined where it cannot be read (the process is gone, or not ours). */
const procEntry = <T>(read: () => T): T | undefined => {
  try {
    return read();
  } catch {
    return undefined;
  }
};

/** A path as the kernel names an executable (symbolic links resolved), or undefined when there is none. */
const resolved = (path: string | undefined): string | undefined => (path === undefined || path === '' ? undefined : procEntry(() => realpathSync(path)));

/**
 * Whether `parent`, this process's parent at its first line, is what the package manager ran it from (review 445).
 * A shell that died before node's first line ran (node's own start-up takes 0.1 to 1 s) left it already adopted by
 * PID 1 or a subreaper, which the watch would have seen there for ever, serving on and holding the folder's lock.
 * Linux names the parent's command line in /proc: npm (pnpm and yarn 1 alike) runs the script as `<shell> -c <script>`,
 * the script being npm_lifecycle_script with the arguments after it (`sh -c 'node bin/credence.mjs start' …`); a shell
 * that execs its last command (bash, zsh: /bin/sh on Fedora or Arch) leaves the package manager itself as the parent,
 * a process of the node npm runs on (npm_node_execpath; its command line is its title, `npm start`). So npm as a
 * container's PID 1 passes too: its shell, or npm itself where that shell exec'd. Anything else (PID 1 or a subreaper
 * that adopted this process, a parent gone or unreadable) is not. Without /proc (macOS, Windows) it cannot be told,
 * and the parent recorded is taken as it is, as before. A reaper that itself runs on npm's node would pass: then the
 * watch stays as it was before this check.
 */
export const isTheProcessTheScriptRanFrom = (parent: number, env: NodeJS.ProcessEnv): boolean => {
  if (process.platform !== 'linux' || procEntry(() => readFileSync('/proc/self/cmdline')) === undefined) return true;
  const argv = procEntry(() => readFileSync(`/proc/${parent}/cmdline`, 'utf8').split('\0'));
  if (argv === undefined) return false;
  const script = argv.indexOf('-c') >= 1 ? argv[argv.indexOf('-c') + 1] : undefined;
  if (script !== undefined && script.startsWith(env['npm_lifecycle_script'] ?? '')) return true;
  const executable = procEntry(() => readlinkSync(`/proc/${parent}/exe`));
  return executable !== undefined && [env['npm_node_execpath'], env['npm_execpath']].some((path) => resolved(path) === executable);
};

/** Whether `parent` is gone: no longer this process's parent (it was adopted), or no process at all (Windows, where
 * an orphan keeps the ppid it had and libuv answers that one, so only the second can tell). */
const isGone = (parent: number): boolean => {
  if (process.ppid !== parent) return true;
  try {
    process.kill(parent, 0);
    return false;
  } catch (error) {
    // EPERM: a process of another user holds that id, which is there.
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
};

/**
 * `npm start` runs node under `sh -c`; Debian's sh (dash) does not exec its last command as bash does, and npm hands
 * SIGTERM and SIGINT to that sh alone: sh and npm ended, and node was left serving with no parent, holding the data
 * folder's lock (review 256: `kill <npm>`, a supervisor's stop). An `exec` in the script fixed it for sh but not for
 * cmd.exe, which has none (review 258). So `start`, run by npm (`npm_lifecycle_event` set), stops gracefully once the
 * process that ran it is gone, as if told SIGTERM: also when it went during the start-up (the parent recorded at
 * launch, review 261), and at the first look when it went before that record was made (the parent recorded is then not the
 * script's shell: isTheProcessTheScriptRanFrom, review 445). Only the direct parent is watched: a SIGKILL to npm
 * itself leaves its sh, and this process under it, running. Not otherwise: `nohup credence start &` or a supervisor
 * that daemonises keeps it running. Not once a shutdown has begun (`stopping`): its own signal would come past the
 * echo window and end the process at once. Within a container whose PID 1 is npm, npm exits some 0.5 s after passing
 * the signal on and the kernel ends the rest: run node there directly, or under an init (`docker run --init`),
 * docs/service.md. Returns what ends the watch.
 */
export const stopWhenParentEnds = (stopping: () => boolean, env: NodeJS.ProcessEnv = process.env): (() => void) => {
  if (env['npm_lifecycle_event'] === undefined) return () => {};
  const parent = launchParent();
  // Decided now, acted on at the first look, as a parent gone is: a signal sent as the watch begins lands while the
  // start reads the store, and once in a test run start then ended saying nothing (no "Credence stopped").
  const adopted = !isTheProcessTheScriptRanFrom(parent, env);
  const timer = setInterval(() => {
    if (!(adopted || isGone(parent)) || stopping()) return;
    clearInterval(timer);
    process.kill(process.pid, 'SIGTERM');
  }, PARENT_CHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
};
