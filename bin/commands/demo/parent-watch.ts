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

/** What /proc names of the processes, read as fs reads it (errors thrown as fs throws them); a fake one in tests. */
export interface ProcessTable {
  /** Whether this system names its processes in /proc (Linux with /proc mounted and readable). */
  readonly named: boolean;
  /** The text of `/proc/<pid>/<name>`. */
  entry: (pid: number, name: 'stat' | 'cmdline') => string;
  /** The executable `/proc/<pid>/exe` names. */
  executable: (pid: number) => string;
  /** Whether a process holds this id (one of another user too). */
  exists: (pid: number) => boolean;
}

/** This machine's /proc. */
const thisMachine = (): ProcessTable => ({
  named: process.platform === 'linux' && procEntry(() => readFileSync('/proc/self/stat')) !== undefined,
  entry: (pid, name) => readFileSync(`/proc/${pid}/${name}`, 'utf8'),
  executable: (pid) => readlinkSync(`/proc/${pid}/exe`),
  exists: (pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code !== 'ESRCH';
    }
  },
});

/** How many ancestors the walk looks at before it gives up (and takes the parent as npm's). */
const MAX_ANCESTORS = 64;

/** The parent id in a /proc/<pid>/stat line, read after the command name's last `)` (the name may hold spaces and
 * parentheses): `<pid> (<comm>) <state> <ppid> …`; undefined when the line is not that. */
const parentInStat = (stat: string): number | undefined => {
  const ppid = Number(stat.slice(stat.lastIndexOf(')') + 1).trim().split(' ')[1]);
  return Number.isInteger(ppid) && ppid >= 0 ? ppid : undefined;
};

/**
 * Whether `parent`, this process's parent at its first line, is what the package manager ran it from, at some
 * remove (reviews 445, 452). A shell that died before node's first line ran (node's own start-up takes 0.1 to 1 s) left
 * it already adopted by PID 1 or a subreaper, which the watch would have seen there for ever, serving on and holding
 * the folder's lock. Linux names each process's parent in /proc/<pid>/stat: the parent is npm's when npm (pnpm and
 * yarn 1 alike) is the parent or one of its ancestors, up to PID 1 — its script's shell, npm itself where that shell
 * exec'd (bash does), or anything npm's script ran on (`npm exec -c 'make e2e'` with make's own `sh -c`, a `./e2e.sh`,
 * concurrently, nodemon). npm is a process of the node it runs on (npm_node_execpath; its title is `npm start`), so npm
 * as a container's PID 1 passes too. A parent whose ancestors reach PID 1 (or 0) with no npm among them, PID 1
 * included, is an adoptive one; so is a parent gone. What cannot be told counts as npm's, the watch on the parent's id
 * left to see a later end: no /proc (macOS, Windows), an ancestor unreadable or gone during the walk (it died: its
 * children were adopted since), a chain longer than 64. A reaper that itself runs on npm's node, or that has npm
 * among its ancestors, passes: then the watch stays as it was before review 445.
 */
export const isTheProcessTheScriptRanFrom = (parent: number, env: NodeJS.ProcessEnv, proc: ProcessTable = thisMachine()): boolean => {
  if (!proc.named) return true;
  const npm = [env['npm_node_execpath'], env['npm_execpath']].map(resolved).filter((path) => path !== undefined);
  const isNpm = (pid: number): boolean => {
    const executable = procEntry(() => proc.executable(pid));
    return executable !== undefined && npm.includes(executable);
  };
  const argv = procEntry(() => proc.entry(parent, 'cmdline').split('\0'));
  const script = argv !== undefined && argv.indexOf('-c') >= 1 ? argv[argv.indexOf('-c') + 1] : undefined;
  if (script !== undefined && script.startsWith(env['npm_lifecycle_script'] ?? '')) return true;
  let pid = parent;
  for (let looked = 0; looked < MAX_ANCESTORS; looked += 1) {
    if (isNpm(pid)) return true;
    if (pid <= 1) return false;
    const stat = procEntry(() => proc.entry(pid, 'stat'));
    // The parent itself gone is an end as any other (the watch would find it at its first look); an ancestor gone
    // during the walk, or one not ours to read, cannot be told.
    if (stat === undefined) return pid === parent ? proc.exists(pid) : true;
    const next = parentInStat(stat);
    if (next === undefined) return true;
    pid = next;
  }
  return true;
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
 * launch, review 261), and at the first look when it went before that record was made (the parent recorded then has no
 * npm among its ancestors: isTheProcessTheScriptRanFrom, reviews 445, 452). It says why on stderr, in one line. Only the direct parent is watched: a SIGKILL to npm
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
    process.stderr.write(
      adopted
        ? `stopping: the process that ran \`credence start\` was gone before it started: its parent was pid ${parent}, not under npm\n`
        : `stopping: the process that ran \`credence start\` (pid ${parent}) is gone\n`,
    );
    process.kill(process.pid, 'SIGTERM');
  }, PARENT_CHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
};
