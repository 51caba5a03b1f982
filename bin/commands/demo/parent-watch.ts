/** How often `start` looks whether the process that ran it is still there. */
const PARENT_CHECK_MS = 500;

/** The parent bin/credence.mjs saw at launch; this process's parent now when it was not run through it (a test). */
const launchParent = (): number => {
  const recorded = (globalThis as Record<symbol, unknown>)[Symbol.for('credence.launchParent')];
  return typeof recorded === 'number' ? recorded : process.ppid;
};

/**
 * `npm start` runs node under `sh -c`; Debian's sh (dash) does not exec its last command as bash does, and npm hands
 * SIGTERM and SIGINT to that sh alone: sh and npm ended, and node was left serving with no parent, holding the data
 * folder's lock (review 256: `kill <npm>`, a supervisor's stop). An `exec` in the script fixed it for sh but not for
 * cmd.exe, which has none (review 258). So `start`, run by npm (`npm_lifecycle_event` set), stops gracefully once the
 * process that ran it is gone, as if told SIGTERM: also when it went during the start-up (the parent recorded at
 * launch, review 261). Not otherwise: `nohup credence start &` or a supervisor that daemonises keeps it running. Not
 * once a shutdown has begun (`stopping`): its own signal would come past the echo window and end the process at once.
 * Within a container whose PID 1 is npm, npm exits some 0.5 s after passing the signal on and the kernel ends the
 * rest: run node there directly, or under an init (`docker run --init`), docs/service.md. Returns what ends the watch.
 */
export const stopWhenParentEnds = (stopping: () => boolean, env: NodeJS.ProcessEnv = process.env): (() => void) => {
  if (env['npm_lifecycle_event'] === undefined) return () => {};
  const parent = launchParent();
  const timer = setInterval(() => {
    if (process.ppid === parent || stopping()) return;
    clearInterval(timer);
    process.kill(process.pid, 'SIGTERM');
  }, PARENT_CHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
};
